// The supervisor's live wallboard: the server's `wallboard` push (docs/protocol.md §5.7)
// every 2 s — calls waiting per queue with the oldest wait, calls in progress and experts
// by state per agency, interpreters and booths by state. Counts only: no names. The oldest
// waits tick on between pushes; no push for more than 10 s says the figures are stale.

import { $, announce, element } from './dom.js';
import { agencyName, serviceName } from './directory.js';
import { clock } from './format.js';
import { language, languageName, t } from './i18n.js';

export const LOCALES = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' };

const STALE_AFTER_MS = 10_000;
export const LONG_WAIT_S = 120; // a wait this long is highlighted (and said in words)
const EXPERT_STATES = ['available', 'offered', 'busy', 'wrap_up', 'paused', 'offline'];
const INTERPRETER_STATES = ['available', 'busy', 'paused', 'offline'];
const BOOTH_STATES = ['online', 'in_call', 'device_problem', 'offline', 'never_seen'];

let board = null; // the latest wallboard message
let receivedAt = null; // performance.now() when it came

/** Take the server's wallboard message. */
export function applyWallboard(msg) {
  board = msg;
  receivedAt = performance.now();
  renderWallboard();
}

/** Return the agencies the wallboard shows (the account's scope), or null before the first. */
export function wallboardAgencies() {
  return board ? (board.agencies ?? []).map((a) => a.agency) : null;
}

/** Return the queues in the order shown: calls waiting first (longest wait first). */
function orderedQueues() {
  const queues = [...(board?.queues ?? [])];
  return queues.sort((a, b) => {
    if ((b.waiting > 0) !== (a.waiting > 0)) return b.waiting > 0 ? 1 : -1;
    const wait = (b.oldest_wait_s ?? 0) - (a.oldest_wait_s ?? 0);
    if (wait) return wait;
    return agencyName(a.agency).localeCompare(agencyName(b.agency)) || a.queue.localeCompare(b.queue);
  });
}

/** Reuse the row keyed `key` of `body` (no flicker, focus kept), or make it. */
function keyedRow(rows, key, make) {
  let row = rows.get(key);
  if (!row) {
    row = make();
    row.dataset.key = key;
  }
  return row;
}

/** Put `rows` into `body` in this order, moving only what moved. */
function placeRows(body, rows) {
  rows.forEach((row, i) => {
    if (body.children[i] !== row) body.insertBefore(row, body.children[i] ?? null);
  });
  while (body.children.length > rows.length) body.lastElementChild.remove();
}

/** Set a cell's text only when it changed. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function rowsByKey(body) {
  return new Map([...body.children].map((row) => [row.dataset.key, row]));
}

/** Show the whole wallboard in the chosen language. */
export function renderWallboard() {
  $('wb-loading').hidden = board !== null;
  $('wb-content').hidden = board === null;
  if (!board) return;
  renderQueues();
  renderAgencies();
  renderCounts('wb-interpreters', 'interp', INTERPRETER_STATES, board.interpreters ?? {});
  renderCounts('wb-booths', 'booth', BOOTH_STATES, board.booths ?? {});
  tickWallboard();
}

function renderQueues() {
  const queues = orderedQueues();
  const waiting = queues.filter((q) => q.waiting > 0);
  const body = $('wb-queue-rows');
  const existing = rowsByKey(body);
  const rows = waiting.map((queue) => {
    const row = keyedRow(existing, queue.queue, () => {
      const tr = element('tr', { attrs: { 'data-testid': `wb-queue-${queue.queue}` } });
      tr.append(
        element('td', { className: 'agency' }),
        element('td', { className: 'service' }),
        element('td', { className: 'language' }),
        element('td', { className: 'num waiting', attrs: { 'data-testid': 'waiting' } }),
        element('td', { className: 'num oldest', attrs: { 'data-testid': 'oldest' } }),
      );
      return tr;
    });
    setText(row.querySelector('.agency'), agencyName(queue.agency));
    setText(row.querySelector('.service'), serviceName(queue.agency, queue.service));
    setText(row.querySelector('.language'), languageName(queue.language));
    setText(row.querySelector('.waiting'), String(queue.waiting));
    return row;
  });
  placeRows(body, rows);
  $('wb-queue-table').hidden = waiting.length === 0;
  $('wb-queues-none').hidden = waiting.length > 0;
  const idle = queues.length - waiting.length;
  setText($('wb-queues-idle'), t('wb.queues_idle', { n: idle }));
  $('wb-queues-idle').hidden = idle === 0;
}

function renderAgencies() {
  const agencies = [...(board.agencies ?? [])].sort((a, b) => agencyName(a.agency).localeCompare(agencyName(b.agency)));
  const body = $('wb-agency-rows');
  const existing = rowsByKey(body);
  const rows = agencies.map((agency) => {
    const row = keyedRow(existing, agency.agency, () => {
      const tr = element('tr', { attrs: { 'data-testid': `wb-agency-${agency.agency}` } });
      tr.append(element('th', { className: 'agency', attrs: { scope: 'row' } }),
        element('td', { className: 'num active', attrs: { 'data-testid': 'active' } }),
        ...EXPERT_STATES.map((state) => element('td', { className: `num state-${state}`, attrs: { 'data-testid': `experts-${state}` } })));
      return tr;
    });
    setText(row.querySelector('.agency'), agencyName(agency.agency));
    setText(row.querySelector('.active'), String(agency.active_calls ?? 0));
    for (const state of EXPERT_STATES) {
      setText(row.querySelector(`.state-${state}`), String(agency.experts?.[state] ?? 0));
    }
    return row;
  });
  placeRows(body, rows);
  const waitingTotal = (board.queues ?? []).reduce((n, q) => n + q.waiting, 0);
  const activeTotal = agencies.reduce((n, a) => n + (a.active_calls ?? 0), 0);
  const availableTotal = agencies.reduce((n, a) => n + (a.experts?.available ?? 0), 0);
  setText($('wb-total-waiting'), String(waitingTotal));
  setText($('wb-total-active'), String(activeTotal));
  setText($('wb-total-available'), String(availableTotal));
}

/** A list of "state: count" for interpreters or booths. */
function renderCounts(id, prefix, states, counts) {
  const list = $(id);
  if (list.children.length !== states.length) {
    list.replaceChildren(...states.map((state) => {
      const item = element('li', { className: `count state-${state}`, attrs: { 'data-testid': `${id}-${state}` } });
      item.append(element('span', { className: 'count-n' }), element('span', { className: 'count-label' }));
      return item;
    }));
  }
  states.forEach((state, i) => {
    const item = list.children[i];
    setText(item.querySelector('.count-n'), String(counts[state] ?? 0));
    setText(item.querySelector('.count-label'), t(`${prefix}.state.${state}`));
  });
}

/** Let the oldest waits tick on, and say when the figures are stale. */
export function tickWallboard() {
  if (!board) return;
  const elapsed = (performance.now() - receivedAt) / 1000;
  const byKey = new Map((board.queues ?? []).map((q) => [q.queue, q]));
  let longest = null;
  for (const row of $('wb-queue-rows').children) {
    const queue = byKey.get(row.dataset.key);
    if (!queue) continue;
    const wait = typeof queue.oldest_wait_s === 'number' ? queue.oldest_wait_s + elapsed : null;
    if (wait !== null) longest = Math.max(longest ?? 0, wait);
    const cell = row.querySelector('.oldest');
    const long = wait !== null && wait >= LONG_WAIT_S;
    row.classList.toggle('long-wait', long);
    // The highlight is said in words too, not by colour alone.
    setText(cell, long ? `${clock(wait)} · ${t('wb.long_wait')}` : clock(wait));
  }
  setText($('wb-total-longest'), clock(longest));
  const stale = performance.now() - receivedAt > STALE_AFTER_MS;
  const status = $('wb-status');
  // Said once when the figures go stale (the line itself is not a live region: it ticks).
  if (stale && status.dataset.stale !== 'true') announce(t('wb.stale', { s: Math.floor(elapsed) }));
  status.dataset.stale = String(stale);
  status.classList.toggle('warn', stale);
  const at = new Date((board.at ?? Date.now() / 1000) * 1000);
  const time = at.toLocaleTimeString(LOCALES[language()], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  setText(status, stale ? t('wb.stale', { s: Math.floor(elapsed) }) : t('wb.updated', { time }));
}

/** Technical state for tests: is the board stale, how many queues have calls. */
export function wallboardState() {
  return board ? {
    stale: performance.now() - receivedAt > STALE_AFTER_MS,
    agencies: wallboardAgencies(),
    waiting: (board.queues ?? []).reduce((n, q) => n + q.waiting, 0),
  } : null;
}
