// The queue overview: the expert's queues (waiting calls, the longest wait ticking on)
// and how many colleagues of each agency are available.

import { $, element } from './dom.js';
import { agencyName, serviceName } from './directory.js';
import { clock } from './format.js';
import { languageName, t } from './i18n.js';

let overview = null; // {queues, colleagues, at}

/** Take the server's queue_overview message. */
export function applyOverview(msg) {
  overview = { queues: msg.queues ?? [], colleagues: msg.colleagues ?? [], at: performance.now() };
  renderOverview();
}

/** Show the queue table and the colleagues. */
export function renderOverview() {
  const queues = overview?.queues ?? [];
  $('queues-empty').hidden = queues.length > 0;
  $('queues-empty').textContent = t(overview ? 'queues.empty' : 'queues.loading');
  // One agency (the usual case) is named once above the table, not on every row.
  const agencyIds = [...new Set(queues.map((q) => q.agency))];
  const single = agencyIds.length === 1;
  $('queues-agency').textContent = single ? agencyName(agencyIds[0]) : '';
  $('queue-table').classList.toggle('single-agency', single);
  $('queue-rows').replaceChildren(...queues.map((queue) => {
    const row = element('tr', {
      className: queue.waiting > 0 ? 'has-waiting' : '',
      attrs: { 'data-testid': `queue-${queue.queue}` },
    });
    row.append(
      element('td', { className: 'agency-col', text: agencyName(queue.agency) }),
      element('td', { text: serviceName(queue.agency, queue.service) }),
      element('td', { text: languageName(queue.language) }),
      element('td', { className: 'num waiting', text: String(queue.waiting), attrs: { 'data-testid': 'waiting' } }),
      element('td', { className: 'num oldest', attrs: { 'data-testid': 'oldest' } }),
    );
    return row;
  }));
  tickOverview();
  const colleagues = overview?.colleagues ?? [];
  $('colleagues').replaceChildren(...(colleagues.length ? colleagues.map((c) => element('li', {
    text: t('colleagues.line', { agency: agencyName(c.agency), n: c.available }),
    attrs: { 'data-testid': `colleagues-${c.agency}` },
  })) : [element('li', { className: 'muted', text: t('colleagues.none') })]));
}

/** Let the longest waits tick on between the server's figures. */
export function tickOverview() {
  if (!overview) return;
  const elapsed = (performance.now() - overview.at) / 1000;
  const rows = $('queue-rows').children;
  overview.queues.forEach((queue, i) => {
    const cell = rows[i]?.querySelector('.oldest');
    if (!cell) return;
    const oldest = queue.waiting > 0 && typeof queue.oldest_wait_s === 'number' ? queue.oldest_wait_s + elapsed : null;
    cell.textContent = clock(oldest);
  });
}
