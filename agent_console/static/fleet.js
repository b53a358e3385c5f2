// The booth fleet (GET /console/api/fleet, docs/protocol.md §5.7): every site's status,
// its last heartbeat, its devices, network and software, and a device test that the
// booth's agent answers at once (its report then carries the test's id).

import { api } from './api.js';
import { $, announce, element } from './dom.js';
import { siteOf } from './directory.js';
import { t } from './i18n.js';

const FLEET = '/console/api/fleet';
const POLL_MS = 10_000;
const TEST_POLL_MS = 1_000; // while a device test waits for its answer
const DEVICES = ['camera', 'microphone', 'speaker', 'document_camera'];

let booths = null; // the latest fleet answer's booths
let failed = false;
let timer = null;
let active = false; // polling only while the fleet view is shown
const tests = new Map(); // site -> {state: 'testing'|'done'|'offline'|'failed', testId?, report?}

/** Start polling the fleet (the view is shown). */
export function startFleet() {
  active = true;
  poll();
}

/** Stop polling (another view, or signed out). */
export function stopFleet() {
  active = false;
  clearTimeout(timer);
  timer = null;
}

async function poll() {
  clearTimeout(timer);
  timer = null;
  try {
    const reply = await api('GET', FLEET);
    failed = reply.status !== 200;
    if (!failed) applyFleet(reply.data.booths ?? []);
  } catch (error) {
    console.warn('fleet', error);
    failed = true;
  }
  renderFleet();
  if (!active) return;
  const testing = [...tests.values()].some((test) => test.state === 'testing');
  timer = setTimeout(poll, testing ? TEST_POLL_MS : POLL_MS);
}

function applyFleet(list) {
  booths = list;
  for (const booth of list) {
    const test = tests.get(booth.site);
    if (test?.state === 'testing' && booth.report?.test_id === test.testId) {
      tests.set(booth.site, { state: 'done', testId: test.testId, report: booth.report });
      announce(t('fleet.test_done_at', { site: siteOf({ id: booth.site }).name, result: testResult(booth.report) }));
    }
  }
}

/** Ask a booth's agent to test its devices now. */
async function deviceTest(site) {
  tests.set(site, { state: 'testing' });
  renderFleet();
  const reply = await api('POST', `${FLEET}/${encodeURIComponent(site)}/device-test`);
  if (reply.status === 202) {
    tests.set(site, { state: 'testing', testId: reply.data.test_id });
    if (active) poll();
    return;
  }
  tests.set(site, { state: reply.status === 409 ? 'offline' : 'failed' });
  renderFleet();
}

/** The booth's status word: in a call is online and busy. */
function statusOf(booth) {
  return booth.status === 'online' && booth.in_call ? 'in_call' : booth.status;
}

/** "just now", "40 s ago", "2 min ago", "3 h ago". */
export function ago(unixS) {
  if (typeof unixS !== 'number') return t('fleet.never');
  const s = Math.max(0, Date.now() / 1000 - unixS);
  if (s < 10) return t('fleet.just_now');
  if (s < 60) return t('fleet.s_ago', { n: Math.floor(s) });
  if (s < 3600) return t('fleet.min_ago', { n: Math.floor(s / 60) });
  if (s < 86400) return t('fleet.h_ago', { n: Math.floor(s / 3600) });
  return t('fleet.d_ago', { n: Math.floor(s / 86400) });
}

/** The devices that are not ok, in words, or that all are. */
function testResult(report) {
  const bad = DEVICES.filter((d) => report?.devices?.[d] && report.devices[d] !== 'ok');
  if (!bad.length) return t('fleet.test_ok');
  return t('fleet.test_problems', {
    list: bad.map((d) => `${t(`fleet.device.${d}`)}: ${t(`fleet.health.${report.devices[d]}`)}`).join(', '),
  });
}

function devicesCell(report) {
  if (!report?.devices) return element('td', { text: '–' });
  const list = element('ul', { className: 'device-list' });
  for (const device of DEVICES) {
    const health = report.devices[device];
    if (!health) continue;
    list.append(element('li', {
      className: health === 'ok' ? 'ok' : 'bad',
      text: `${health === 'ok' ? '✓' : '✕'} ${t(`fleet.device.${device}`)}${health === 'ok' ? '' : `: ${t(`fleet.health.${health}`)}`}`,
      attrs: { 'data-testid': `device-${device}` },
    }));
  }
  if (report.kiosk && report.kiosk !== 'running') {
    list.append(element('li', { className: 'bad', text: `✕ ${t('fleet.kiosk')}: ${t(`fleet.kiosk.${report.kiosk}`)}` }));
  }
  const cell = element('td');
  cell.append(list);
  return cell;
}

function networkText(report) {
  if (!report) return '–';
  const rtt = typeof report.rtt_ms === 'number' ? t('fleet.rtt', { ms: Math.round(report.rtt_ms) }) : t('fleet.rtt_unknown');
  const loss = typeof report.loss_pct === 'number' ? t('fleet.loss', { pct: report.loss_pct.toFixed(1) }) : t('fleet.loss_unknown');
  return `${rtt} · ${loss}`;
}

function testCell(booth) {
  const cell = element('td', { className: 'test-cell' });
  const test = tests.get(booth.site);
  const name = siteOf({ id: booth.site }).name;
  const button = element('button', {
    className: 'secondary',
    text: t('fleet.test'),
    attrs: { type: 'button', 'data-testid': 'device-test', 'aria-label': t('fleet.test_at', { site: name }) },
  });
  button.disabled = test?.state === 'testing';
  button.addEventListener('click', () => deviceTest(booth.site).catch((error) => {
    console.warn('device test', error);
    tests.set(booth.site, { state: 'failed' });
    renderFleet();
  }));
  const result = element('p', { className: 'small test-result', attrs: { 'data-testid': 'device-test-result' } });
  if (test) {
    result.dataset.state = test.state;
    result.textContent = test.state === 'testing' ? t('fleet.testing')
      : test.state === 'done' ? testResult(test.report)
        : test.state === 'offline' ? t('fleet.test_offline') : t('fleet.test_failed');
  }
  cell.append(button, result);
  return cell;
}

/** Show the fleet in the chosen language. */
export function renderFleet() {
  $('fleet-loading').hidden = booths !== null || failed;
  $('fleet-error').textContent = failed ? t('fleet.failed') : '';
  $('fleet-table').hidden = booths === null;
  if (booths === null) return;
  // Keep the focus on a Device test button across a refresh.
  const focused = document.activeElement?.closest?.('#fleet-rows tr')?.dataset.site;
  const order = ['device_problem', 'offline', 'in_call', 'online', 'never_seen'];
  const sorted = [...booths].sort((a, b) => order.indexOf(statusOf(a)) - order.indexOf(statusOf(b))
    || siteOf({ id: a.site }).name.localeCompare(siteOf({ id: b.site }).name));
  $('fleet-rows').replaceChildren(...sorted.map((booth) => {
    const site = siteOf({ id: booth.site });
    const status = statusOf(booth);
    const row = element('tr', { attrs: { 'data-testid': `fleet-${booth.site}`, 'data-site': booth.site } });
    const name = element('th', { attrs: { scope: 'row' } });
    name.append(element('span', { text: site.name }),
      element('span', { className: 'muted small block', text: `${site.municipality} · ${t(`fleet.kind.${booth.kind}`)}` }));
    const badgeCell = element('td');
    badgeCell.append(element('span', {
      className: `badge badge-${status}`,
      text: t(`fleet.status.${status}`),
      attrs: { 'data-testid': 'fleet-status', 'data-status': status },
    }));
    row.append(
      name,
      badgeCell,
      element('td', { text: ago(booth.last_report_at), attrs: { 'data-testid': 'fleet-seen' } }),
      devicesCell(booth.report),
      element('td', { className: 'nowrap', text: networkText(booth.report) }),
      element('td', { text: booth.report?.software_version ?? '–' }),
      testCell(booth),
    );
    return row;
  }));
  if (focused) document.querySelector(`#fleet-rows tr[data-site="${CSS.escape(focused)}"] [data-testid=device-test]`)?.focus();
}

/** Refresh the "2 min ago" texts between polls. */
export function tickFleet() {
  if (!active || !booths) return;
  for (const booth of booths) {
    const cell = document.querySelector(`#fleet-rows tr[data-site="${CSS.escape(booth.site)}"] [data-testid=fleet-seen]`);
    const text = ago(booth.last_report_at);
    if (cell && cell.textContent !== text) cell.textContent = text;
  }
}

/** Technical state for tests. */
export function fleetState() {
  return { booths: booths?.length ?? null, tests: Object.fromEntries([...tests].map(([site, test]) => [site, test.state])) };
}
