// The supervisor's history: the statistics report (GET /console/api/stats/report,
// docs/statistics.md) as charts of volumes, waits and interpreting, each with a caption
// that says what it shows and the same figures in a table; the same query as CSV.
// Withheld cells (fewer than 5 sessions behind them) say so, never 0. Chart.js is loaded
// only when this view is first shown (vendor/chart.umd.min.js, MIT).

import { api } from './api.js';
import { $, element, fillSelect } from './dom.js';
import { agencies, agencyName, siteOf, sites } from './directory.js';
import { clock } from './format.js';
import { language, languageName, t } from './i18n.js';
import { wallboardAgencies } from './wallboard.js';

const REPORT = '/console/api/stats/report';
const DIMENSIONS = ['site', 'agency', 'region', 'language', 'modality'];
const MODALITIES = ['spoken', 'sign', 'text'];
const MAX_SERIES = 6; // groups drawn in one chart; the table has them all
const COLOURS = ['#1f4f8f', '#b7560b', '#1d6b3a', '#5b3e99', '#a12a2f', '#0f6f7a'];
// The table's columns after the period and the grouping; the CSV has every column.
const COLUMNS = [
  ['sessions', 'count'], ['served', 'count'], ['abandoned', 'count'],
  ['wait_p50_s', 'duration'], ['wait_p90_s', 'duration'], ['handling_p50_s', 'duration'],
  ['interp_requested', 'count'], ['interp_filled', 'count'], ['interp_fill_rate', 'rate'],
  ['satisfaction_mean', 'decimal'],
];
// Each chart: its metrics without a grouping, and the one it draws per group.
const CHARTS = {
  volumes: { type: 'bar', metrics: ['sessions', 'served', 'abandoned'], perGroup: 'sessions', unit: 'count' },
  waits: { type: 'line', metrics: ['wait_p50_s', 'wait_p90_s'], perGroup: 'wait_p50_s', unit: 'duration' },
  interpreting: { type: 'bar', metrics: ['interp_requested', 'interp_filled'], perGroup: 'interp_requested', unit: 'count' },
};

let wired = false;
let report = null; // the last report shown: {data, query}
let state = 'idle'; // idle, loading, shown, off (no statistics on this server), error
let errorText = '';
const charts = new Map(); // name -> Chart
let ChartLib = null;

/** Today as YYYY-MM-DD in local time, moved by `days`. */
function isoDay(days = 0) {
  const d = new Date();
  d.setDate(d.getDate() + days);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The agencies this account may see statistics of (the server decides; we only follow). */
function allowedAgencies() {
  const fromBoard = wallboardAgencies();
  if (fromBoard?.length) return fromBoard;
  const fromReport = report?.data?.filters?.agency;
  if (fromReport?.length) return fromReport;
  return agencies().map((a) => a.id);
}

/** The name of a value of a dimension in the chosen language. */
export function valueName(dimension, value) {
  if (value === null || value === undefined || value === '') return '–';
  if (dimension === 'site') return siteOf({ id: value }).name;
  if (dimension === 'agency') return agencyName(value);
  if (dimension === 'language') return languageName(value);
  if (dimension === 'modality') return t(`modality.${value}`);
  return String(value);
}

/** Fill the filter and grouping choices, keeping what was chosen. */
function fillChoices() {
  const keep = (id) => $(id).value;
  const all = { value: '', text: t('hist.all') };
  const allowed = allowedAgencies();
  fillSelect($('hist-agency'), [all, ...allowed.map((id) => ({ value: id, text: agencyName(id) }))], keep('hist-agency'));
  fillSelect($('hist-site'), [all, ...sites().map((s) => ({ value: s.id, text: siteOf(s).name }))], keep('hist-site'));
  const regions = [...new Set(sites().map((s) => s.region).filter(Boolean))].sort();
  fillSelect($('hist-region'), [all, ...regions.map((r) => ({ value: r, text: r }))], keep('hist-region'));
  const languages = new Set();
  for (const agency of agencies().filter((a) => allowed.includes(a.id))) {
    for (const service of agency.services ?? []) for (const code of service.languages ?? []) languages.add(code);
  }
  fillSelect($('hist-language'), [all, ...[...languages].map((code) => ({ value: code, text: languageName(code) }))
    .sort((a, b) => a.text.localeCompare(b.text))], keep('hist-language'));
  fillSelect($('hist-modality'), [all, ...MODALITIES.map((m) => ({ value: m, text: t(`modality.${m}`) }))], keep('hist-modality'));
  fillSelect($('hist-period'), ['day', 'week', 'month'].map((p) => ({ value: p, text: t(`hist.period.${p}`) })),
    keep('hist-period') || 'week');
  fillSelect($('hist-by'), [{ value: '', text: t('hist.by_none') },
    ...DIMENSIONS.map((d) => ({ value: d, text: t(`hist.dim.${d}`) }))], keep('hist-by'));
}

/** The report's query string from the form. */
function queryString(format) {
  const params = new URLSearchParams();
  params.set('from', $('hist-from').value);
  params.set('to', $('hist-to').value);
  params.set('period', $('hist-period').value);
  if ($('hist-by').value) params.set('by', $('hist-by').value);
  for (const name of DIMENSIONS) {
    const value = $(`hist-${name}`).value;
    if (value) params.set(name, value);
  }
  if (format) params.set('format', format);
  return params.toString();
}

/** Wire the form once: the first view of the history. */
function wire() {
  if (wired) return;
  wired = true;
  $('hist-from').value = isoDay(-27);
  $('hist-to').value = isoDay(0);
  $('hist-form').addEventListener('submit', (event) => {
    event.preventDefault();
    loadReport().catch((error) => console.warn('report', error));
  });
  $('hist-form').addEventListener('change', () => updateCsvLink());
}

function updateCsvLink() {
  $('hist-csv').setAttribute('href', `${REPORT}?${queryString('csv')}`);
}

/** Show the history view: the first time, fetch the default report. */
export async function showHistory() {
  const first = !wired;
  wire();
  fillChoices();
  updateCsvLink();
  if (first) await loadReport();
}

/** Fetch the report the form asks for and show it. */
export async function loadReport() {
  const query = queryString();
  state = 'loading';
  renderHistory();
  const [reply] = await Promise.all([api('GET', `${REPORT}?${query}`), loadChartLib()]);
  if (reply.status === 200) {
    report = { data: reply.data };
    state = 'shown';
  } else if (reply.status === 404) {
    state = 'off';
  } else {
    state = 'error';
    const field = reply.data?.error?.field;
    errorText = reply.status === 403 ? t('hist.forbidden')
      : reply.status === 400 ? t('hist.bad_query', { field: field ? t(`hist.field.${field}`) : '' }) : t('hist.failed');
  }
  renderHistory();
}

async function loadChartLib() {
  if (ChartLib) return;
  try {
    await import('./vendor/chart.umd.min.js');
    ChartLib = globalThis.Chart;
  } catch (error) {
    console.warn('charts', error); // the captions and the table still tell everything
  }
}

/** Show the report in the chosen language (after a fetch or a language switch). */
export function renderHistory() {
  if (!wired) return;
  fillChoices();
  updateCsvLink();
  $('hist-off').hidden = state !== 'off';
  $('hist-form').hidden = state === 'off';
  $('hist-status').textContent = state === 'loading' ? t('hist.loading') : '';
  $('hist-error').textContent = state === 'error' ? errorText : '';
  const rows = state === 'shown' ? report.data.rows : [];
  $('hist-results').hidden = state !== 'shown';
  $('hist-empty').hidden = !(state === 'shown' && rows.length === 0);
  $('hist-charts').hidden = rows.length === 0;
  $('hist-table-box').hidden = rows.length === 0;
  if (state !== 'shown') return;
  renderTable(report.data);
  for (const name of Object.keys(CHARTS)) renderChart(name, report.data);
}

/** A cell's text: a withheld figure says so, a missing one is a dash. */
export function cellText(row, name, kind) {
  const value = row[name];
  if (value === null || value === undefined) {
    return (row.suppressed ?? []).includes(name) ? t('hist.withheld') : '–';
  }
  if (kind === 'duration') return clock(value);
  if (kind === 'rate') return `${Math.round(value * 100)} %`;
  if (kind === 'decimal') return value.toLocaleString(language(), { maximumFractionDigits: 1 });
  return String(value);
}

function renderTable(data) {
  const heads = [];
  if (data.period) heads.push(['period', t('hist.col.period')]);
  for (const dim of data.by) heads.push([dim, t(`hist.dim.${dim}`)]);
  const head = element('tr');
  head.append(...heads.map(([, text]) => element('th', { text, attrs: { scope: 'col' } })),
    ...COLUMNS.map(([name]) => element('th', { className: 'num', text: t(`hist.col.${name}`), attrs: { scope: 'col' } })));
  $('hist-table-head').replaceChildren(head);
  $('hist-table-rows').replaceChildren(...data.rows.map((row, i) => {
    const tr = element('tr', { attrs: { 'data-testid': `hist-row-${i}` } });
    heads.forEach(([name], j) => {
      const text = name === 'period' ? (row.period ?? '') : valueName(name, row[name]);
      tr.append(element(j === 0 ? 'th' : 'td', { text, attrs: { 'data-col': name, ...(j === 0 ? { scope: 'row' } : {}) } }));
    });
    for (const [name, kind] of COLUMNS) {
      const withheld = (row.suppressed ?? []).includes(name);
      tr.append(element('td', {
        className: withheld ? 'num withheld' : 'num',
        text: cellText(row, name, kind),
        attrs: { 'data-col': name },
      }));
    }
    return tr;
  }));
  $('hist-table-caption').textContent = t('hist.table_caption', { from: data.from, to: data.to });
}

/** The x labels and series of a chart: over time or by group, as the report is grouped. */
function chartData(name, data) {
  const spec = CHARTS[name];
  const by = data.by[0] ?? null;
  const xKey = (row) => (data.period ? row.period : by ? row[by] : 'all');
  const xs = [...new Set(data.rows.map(xKey))];
  const xLabel = (x) => (data.period ? x : by ? valueName(by, x) : t('hist.total'));
  let series;
  let truncated = false;
  if (data.period && by) {
    // One line or bar per group (the largest groups); the table has every group.
    const totals = new Map();
    for (const row of data.rows) totals.set(row[by], (totals.get(row[by]) ?? 0) + (row.sessions ?? 0));
    const all = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a));
    truncated = all.length > MAX_SERIES;
    series = all.slice(0, MAX_SERIES).map((group) => ({
      label: valueName(by, group),
      values: xs.map((x) => data.rows.find((r) => xKey(r) === x && r[by] === group)?.[spec.perGroup] ?? null),
    }));
  } else {
    series = spec.metrics.map((metric) => ({
      label: t(`hist.col.${metric}`),
      values: xs.map((x) => data.rows.find((r) => xKey(r) === x)?.[metric] ?? null),
    }));
  }
  return { labels: xs.map(xLabel), series, spec, by, truncated };
}

/** A total over the rows shown; a withheld cell is never counted as 0, it is said. */
function total(rows, metric) {
  const known = rows.reduce((n, r) => n + (r[metric] ?? 0), 0);
  const withheld = rows.filter((r) => (r.suppressed ?? []).includes(metric)).length;
  if (!withheld) return String(known);
  if (known === 0) return withheld === 1 ? t('hist.withheld') : t('hist.sum.some_withheld');
  return t('hist.sum.plus_withheld', { n: known });
}

/** A sentence that says what the chart shows, for everyone who cannot see it. */
function summary(name, data, { series, truncated }) {
  const span = { from: data.from, to: data.to };
  const rows = data.rows;
  let text;
  if (name === 'volumes') {
    text = t('hist.sum.volumes', {
      ...span, n: total(rows, 'sessions'), served: total(rows, 'served'), abandoned: total(rows, 'abandoned'),
    });
  } else if (name === 'interpreting') {
    text = t('hist.sum.interpreting', { ...span, n: total(rows, 'interp_requested'), filled: total(rows, 'interp_filled') });
  } else {
    const waits = rows.map((r) => r.wait_p50_s).filter((v) => typeof v === 'number');
    text = waits.length
      ? t('hist.sum.waits', { ...span, min: clock(Math.min(...waits)), max: clock(Math.max(...waits)) })
      : t('hist.sum.waits_none', span);
  }
  if (truncated) text += ` ${t('hist.sum.groups', { n: series.length })}`;
  const small = rows.filter((r) => (r.suppressed ?? []).includes('sessions')).length;
  if (small) text += ` ${t('hist.sum.withheld', { n: small })}`;
  return text;
}

function renderChart(name, data) {
  const drawn = chartData(name, data);
  $(`hist-${name}-caption`).textContent = summary(name, data, drawn);
  const canvas = $(`hist-${name}-chart`);
  charts.get(name)?.destroy();
  charts.delete(name);
  if (!ChartLib) return;
  const style = getComputedStyle(document.body);
  ChartLib.defaults.font.family = style.fontFamily;
  ChartLib.defaults.font.size = 13;
  ChartLib.defaults.color = '#172033';
  const type = data.period && drawn.labels.length > 1 ? drawn.spec.type : 'bar';
  const duration = drawn.spec.unit === 'duration';
  charts.set(name, new ChartLib(canvas, {
    type,
    data: {
      labels: drawn.labels,
      datasets: drawn.series.map((s, i) => ({
        label: s.label,
        data: s.values,
        backgroundColor: COLOURS[i % COLOURS.length],
        borderColor: COLOURS[i % COLOURS.length],
        borderWidth: 2,
        pointRadius: 3,
        spanGaps: false,
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      locale: language(),
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 14 } },
        tooltip: {
          callbacks: {
            label: (ctx) => `${ctx.dataset.label}: ${ctx.raw === null ? t('hist.withheld_or_none')
              : duration ? clock(ctx.raw) : ctx.raw}`,
          },
        },
      },
      scales: {
        y: {
          beginAtZero: true,
          ticks: duration ? { precision: 0, callback: (v) => clock(v) } : { precision: 0 },
          title: { display: true, text: t(`hist.axis.${name}`) },
        },
      },
    },
  }));
}

/** Technical state for tests: the view's state and whether the charts were drawn. */
export function historyState() {
  return { state, charts: [...charts.keys()], rows: report?.data?.rows?.length ?? null };
}
