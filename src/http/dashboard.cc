#include "http/dashboard.h"

namespace vectord::http {

// One document, no external URLs: the Content-Security-Policy below lets the
// page talk only to its own origin. Server text is never parsed as HTML: the
// script builds elements and sets textContent.
std::string_view DashboardPage() {
  static constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>vectord · dashboard</title>
<style>
:root {
  color-scheme: light dark;
  --bg: #f4f5f7; --card: #ffffff; --text: #1c2330; --muted: #6b7280; --line: #e4e7ec;
  --grid: #eef0f3; --accent: #2563eb; --accent-band: rgba(37, 99, 235, 0.13);
  --check: #d97706; --ok: #16a34a; --bad: #dc2626; --chip: #eef2ff;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1216; --card: #181c23; --text: #e5e8ed; --muted: #9aa3b2; --line: #2a313b;
    --grid: #222831; --accent: #60a5fa; --accent-band: rgba(96, 165, 250, 0.18);
    --check: #fbbf24; --chip: #1e2533;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
}
header {
  display: flex; align-items: baseline; gap: 10px; padding: 14px 24px;
  background: var(--card); border-bottom: 1px solid var(--line);
}
header h1 { margin: 0; font-size: 18px; letter-spacing: -0.01em; }
header .subtitle { color: var(--muted); }
#status { margin-left: auto; color: var(--muted); font-size: 13px; }
#status::before {
  content: ""; display: inline-block; width: 8px; height: 8px; margin-right: 6px;
  border-radius: 50%; background: var(--muted);
}
#status.ok::before { background: var(--ok); }
#status.error { color: var(--bad); }
#status.error::before { background: var(--bad); }
main { max-width: 1360px; margin: 0 auto; padding: 20px 24px 32px; display: grid; gap: 20px; }
#content { display: grid; gap: 20px; }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px;
}
h2 { margin: 0 0 12px; font-size: 15px; }
h3 { margin: 0; font-size: 14px; }
.muted { color: var(--muted); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th {
  color: var(--muted); font-size: 11.5px; font-weight: 600; text-transform: uppercase;
  letter-spacing: 0.04em;
}
tbody tr:last-child td { border-bottom: none; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.name { font-weight: 600; }
td.pending { color: var(--muted); font-style: italic; }
td.empty { color: var(--muted); text-align: center; padding: 18px; }
button {
  font: inherit; padding: 5px 12px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--accent); background: var(--accent); color: #fff;
}
button.secondary { background: transparent; color: var(--accent); }
button:disabled { opacity: 0.6; cursor: progress; }
input, select {
  font: inherit; padding: 5px 8px; border-radius: 6px; border: 1px solid var(--line);
  background: var(--bg); color: var(--text);
}
#charts { display: grid; gap: 16px; }
.recall-card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.recall-head { display: flex; align-items: center; gap: 12px; margin-bottom: 8px; }
.recall-head .muted { font-size: 12.5px; }
.recall-head button { margin-left: auto; }
.recall-body { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.recall-body svg { flex: 1 1 520px; max-width: 720px; height: auto; }
.check-panel { flex: 0 1 300px; font-size: 13px; }
.check-panel th, .check-panel td { padding: 4px 8px; }
.check-message { color: var(--bad); margin: 6px 0 0; }
.recall-card.busy .recall-head button::before {
  content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 6px;
  border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%;
  vertical-align: -1px; animation: spin 0.8s linear infinite;
}
@keyframes spin { to { transform: rotate(360deg); } }
svg text { fill: var(--muted); font-size: 11px; }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg .grid { stroke: var(--grid); stroke-width: 1; }
svg .band { fill: var(--accent-band); stroke: none; }
svg .series-estimate { fill: none; stroke: var(--accent); stroke-width: 2; }
svg .series-check { fill: none; stroke: var(--check); stroke-width: 2; stroke-dasharray: 6 4; }
svg .point-estimate { fill: var(--accent); }
svg .point-check { fill: var(--check); }
svg .legend { fill: var(--text); font-size: 12px; }
svg .placeholder { font-size: 13px; }
.controls { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: center; }
.controls label { display: flex; gap: 6px; align-items: center; color: var(--muted); }
#pg-id { width: 220px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 12px 0 4px; align-items: center; }
.chips button {
  padding: 2px 9px; font-size: 12.5px; border-radius: 12px; border-color: var(--line);
  background: var(--chip); color: var(--text);
}
#pg-message { margin: 10px 0; }
#pg-message.error { color: var(--bad); }
td.metadata code {
  display: inline-block; max-width: 640px; overflow: hidden; text-overflow: ellipsis;
  vertical-align: bottom; font-size: 12.5px;
}
#token-form { width: 100%; max-width: 460px; justify-self: center; margin-top: 24px; }
#token-form p { margin: 0 0 12px; color: var(--muted); }
#token-form .controls input { flex: 1; }
</style>
</head>
<body>
<header>
  <h1>vectord</h1><span class="subtitle">dashboard</span>
  <span id="status" role="status">Loading…</span>
</header>
<main id="main">
  <div id="content">
    <section class="card">
      <h2>Indexes</h2>
      <div class="scroll">
        <table id="index-table">
          <thead><tr></tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
    <section class="card">
      <h2>Recall@10 against ef</h2>
      <div id="charts"></div>
    </section>
    <section class="card" id="playground">
      <h2>Search playground</h2>
      <form id="pg-form" class="controls">
        <label>Index <select id="pg-index"></select></label>
        <label>Item id <input id="pg-id" list="pg-ids" autocomplete="off" spellcheck="false"
                              placeholder="type or pick an id"></label>
        <datalist id="pg-ids"></datalist>
        <button type="submit">Search nearest 10</button>
      </form>
      <div class="chips" id="pg-chips"></div>
      <p id="pg-message" class="muted">Pick an item: its stored vector is the query.</p>
      <div class="scroll">
        <table id="pg-results" hidden>
          <thead><tr><th class="num">Rank</th><th>Id</th><th class="num">Distance</th><th>Metadata</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
  </div>
</main>
<script>
'use strict';

const POLL_MS = 2000;
const CHECK_BODY = { ef: [10, 16, 24, 32, 48, 64, 96, 128, 256], queries: 200 };
const TOKEN_KEY = 'vectord.token';
const SVG_NS = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- helpers

// An element with attributes and children (strings become text nodes).
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...[].concat(children));
  return node;
}

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

const integer = new Intl.NumberFormat('en-US');

function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return (unit === 0 ? String(value) : value.toFixed(value < 10 ? 2 : 1)) + ' ' + units[unit];
}

function formatRate(perSecond) {
  if (perSecond === null) return '–';
  if (perSecond === 0) return '0';
  return perSecond < 10 ? perSecond.toFixed(1) : integer.format(Math.round(perSecond));
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return '–';
  return ms < 1 ? ms.toFixed(3) : ms < 100 ? ms.toFixed(2) : ms.toFixed(0);
}

// The self-check does not measure indexes of 10 items or fewer.
const MIN_MEASURED_ITEMS = 11;

function formatRecall(estimate) {
  if (!estimate || estimate.recall_at_10 === null) return null;
  let text = estimate.recall_at_10.toFixed(3);
  if (estimate.ci95 !== null) text += ' ± ' + estimate.ci95.toFixed(3);
  return text + ' (' + integer.format(estimate.samples) + ' samples)';
}

const indexPath = (name) => '/vectors/index/' + encodeURIComponent(name);

// ---------------------------------------------------------------- auth

// The token arrives in the fragment (never sent to the server), lives in
// this tab's sessionStorage, and leaves the address bar at once.
let tokenInMemory = null;  // when sessionStorage is unavailable

function loadToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) ?? tokenInMemory; } catch { return tokenInMemory; }
}

function saveToken(token) {
  tokenInMemory = token;
  try { sessionStorage.setItem(TOKEN_KEY, token); } catch { /* memory only */ }
}

// The fragment's key=value pairs, values percent-decoded.
function fragmentParams() {
  const params = new Map();
  for (const part of location.hash.replace(/^#/, '').split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try { params.set(part.slice(0, eq), decodeURIComponent(part.slice(eq + 1))); } catch { /* bad escape */ }
  }
  return params;
}

function takeTokenFromFragment() {
  const params = fragmentParams();
  if (!params.has('token')) return;
  saveToken(params.get('token'));
  const rest = location.hash.replace(/^#/, '').split('&').filter((part) => !part.startsWith('token='));
  history.replaceState(null, '', location.pathname + location.search +
                                  (rest.length ? '#' + rest.join('&') : ''));
}

class AuthError extends Error {}

// One API call: JSON in, JSON out; AuthError on 401, Error with the
// server's text otherwise.
async function api(method, path, body) {
  const headers = {};
  const token = loadToken();
  if (token) headers['Authorization'] = 'Bearer ' + token;
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) throw new AuthError('the server wants a valid API token');
  const text = await response.text();
  if (!response.ok) {
    const error = new Error(`${method} ${path}: ${response.status} ${text.trim()}`);
    error.status = response.status;
    throw error;
  }
  return text ? JSON.parse(text) : null;
}

function showTokenForm() {
  clearData();
  $('content').hidden = true;
  if ($('token-form')) return;
  const input = el('input', { type: 'password', id: 'token-input', autocomplete: 'off',
                              placeholder: 'API token', required: '' });
  const form = el('form', { id: 'token-form', class: 'card' }, [
    el('h2', {}, loadToken() ? 'The API token was refused' : 'API token needed'),
    el('p', {}, 'This server answers only with a bearer token. It is kept in this tab only ' +
                '(sessionStorage); /dashboard#token=… passes it too.'),
    el('div', { class: 'controls' }, [input, el('button', { type: 'submit' }, 'Continue')]),
  ]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    saveToken(input.value.trim());
    form.remove();
    $('content').hidden = false;
    refresh();
  });
  $('main').prepend(form);
  input.focus();
}

function setStatus(text, kind) {
  const status = $('status');
  status.textContent = text;
  status.className = kind;
}

// ---------------------------------------------------------------- index table

const COLUMNS = [
  { key: 'name', title: 'Index' },
  { key: 'dimension', title: 'Dim', num: true },
  { key: 'distance', title: 'Distance' },
  { key: 'items', title: 'Items', num: true },
  { key: 'memory', title: 'Memory', num: true },
  { key: 'writes', title: 'Writes/s', num: true },
  { key: 'searches', title: 'Searches/s', num: true },
  { key: 'p50', title: 'p50 ms', num: true },
  { key: 'p90', title: 'p90 ms', num: true },
  { key: 'p99', title: 'p99 ms', num: true },
  { key: 'recall', title: 'Recall@10 (estimate)', num: true },
];

const rows = new Map();      // name -> <tr>
const previous = new Map();  // name -> { at, writes, searches } of the last poll

function buildTableHead() {
  const head = document.querySelector('#index-table thead tr');
  for (const column of COLUMNS) {
    head.append(el('th', column.num ? { class: 'num' } : {}, column.title));
  }
}

// Items written and searches per second since the previous poll; null on
// the first poll or after a counter went back (a restarted server).
function rates(name, details, at) {
  const writes = details.stats.items_added + details.stats.items_deleted;
  const searches = details.stats.searches;
  const last = previous.get(name);
  previous.set(name, { at, writes, searches });
  if (!last || at <= last.at || writes < last.writes || searches < last.searches) {
    return { writes: null, searches: null };
  }
  const seconds = (at - last.at) / 1000;
  return { writes: (writes - last.writes) / seconds, searches: (searches - last.searches) / seconds };
}

function renderTable(all, at) {
  const body = document.querySelector('#index-table tbody');
  for (const [name, row] of rows) {
    if (!all.has(name)) { row.remove(); rows.delete(name); previous.delete(name); }
  }
  body.querySelector('tr.empty-row')?.remove();
  if (all.size === 0) {
    body.append(el('tr', { class: 'empty-row' }, el('td', { colspan: COLUMNS.length, class: 'empty' },
        'No indexes yet: create one with POST /vectors/index.')));
    return;
  }
  for (const [name, details] of all) {
    let row = rows.get(name);
    if (!row) {
      row = el('tr', { 'data-index': name }, COLUMNS.map((column) =>
          el('td', { 'data-field': column.key, class: column.num ? 'num' : column.key })));
      rows.set(name, row);
    }
    body.append(row);  // keeps the rows in the server's (sorted) order
    const rate = rates(name, details, at);
    const latency = details.stats.search_latency_ms;
    const recall = formatRecall(details.recall_estimate);
    const values = {
      name,
      dimension: integer.format(details.params.dimension),
      distance: details.params.distance + (details.params.quantization !== 'none'
                                           ? ' · ' + details.params.quantization : ''),
      items: integer.format(details.length),
      memory: formatBytes(details.memory_bytes),
      writes: formatRate(rate.writes),
      searches: formatRate(rate.searches),
      p50: formatMs(latency?.p50),
      p90: formatMs(latency?.p90),
      p99: formatMs(latency?.p99),
      recall: recall ?? (details.length < MIN_MEASURED_ITEMS ? 'not measured (≤ 10 items)'
                                                             : 'measuring…'),
    };
    for (const cell of row.cells) cell.textContent = values[cell.dataset.field];
    const recallCell = row.querySelector('td[data-field="recall"]');
    recallCell.classList.toggle('pending', recall === null);
    recallCell.title = details.recall_estimate.samples_from_queries + ' of the samples are ' +
                       'live queries, the rest stored items';
  }
}

// ---------------------------------------------------------------- recall charts

const CHART = { width: 600, height: 290, left: 54, right: 20, top: 40, bottom: 46 };
const cards = new Map();  // name -> { root, svg, panel, message, button, curve, check, drawn }

function ensureCard(name) {
  let card = cards.get(name);
  if (card) return card;
  const button = el('button', { type: 'button', class: 'secondary' }, 'Run recall check');
  const svg = svgEl('svg', { 'data-chart': 'recall', 'data-index': name, role: 'img',
                             viewBox: `0 0 ${CHART.width} ${CHART.height}`,
                             'aria-label': 'recall@10 against ef for ' + name });
  const panel = el('div');  // the last explicit check, as a table
  const message = el('p', { class: 'check-message' });
  const summary = el('span', { class: 'muted' });
  const root = el('article', { class: 'recall-card' }, [
    el('div', { class: 'recall-head' }, [el('h3', {}, name), summary, button]),
    el('div', { class: 'recall-body' }, [svg, el('div', { class: 'check-panel' }, [panel, message])]),
  ]);
  card = { root, svg, panel, message, button, summary, curve: [], check: null, drawn: null };
  button.addEventListener('click', () => runRecallCheck(name, card));
  cards.set(name, card);
  return card;
}

function renderCharts(all) {
  const container = $('charts');
  for (const [name, card] of cards) {
    if (!all.has(name)) { card.root.remove(); cards.delete(name); }
  }
  container.querySelector('.empty')?.remove();
  if (all.size === 0) {
    container.append(el('p', { class: 'muted empty' }, 'No indexes.'));
    return;
  }
  for (const [name, details] of all) {
    const card = ensureCard(name);
    container.append(card.root);
    card.curve = details.recall_estimate.curve;
    card.check = details.recall_check;
    card.summary.textContent = details.recall_estimate.samples > 0
        ? `self-check: ${integer.format(details.recall_estimate.samples)} samples, ` +
          `served at ef_search ${details.params.ef_search}`
        : details.length < MIN_MEASURED_ITEMS ? 'self-check: not measured (10 items or fewer)'
        : 'self-check: measuring…';
    redraw(card);
  }
}

// Redraws the chart and the check table when their data changed.
function redraw(card) {
  const key = JSON.stringify([card.curve, card.check]);
  if (key === card.drawn) return;
  card.drawn = key;
  drawRecallChart(card.svg, card.curve, card.check);
  renderCheckTable(card.panel, card.check);
}

function renderCheckTable(panel, check) {
  if (!check) {
    panel.replaceChildren(el('p', { class: 'muted' },
        'No explicit check yet. A check searches 200 stored items at each ef and compares ' +
        'with exact answers from a full scan.'));
    return;
  }
  const measured = new Date(check.measured_at);
  const when = isNaN(measured) ? check.measured_at
      : measured.toDateString() === new Date().toDateString() ? 'at ' + measured.toLocaleTimeString()
      : measured.toLocaleString();
  const body = el('tbody', {}, check.results.map((r) => el('tr', {}, [
    el('td', { class: 'num' }, String(r.ef)),
    el('td', { class: 'num' }, r.recall_at_10.toFixed(3)),
    el('td', { class: 'num' }, formatMs(r.p50_ms)),
    el('td', { class: 'num' }, formatMs(r.p99_ms)),
  ])));
  panel.replaceChildren(
      el('p', { class: 'muted' }, `Last check ${when}, ${integer.format(check.queries)} queries`),
      el('table', { class: 'check-table' }, [
        el('thead', {}, el('tr', {}, ['ef', 'recall@10', 'p50 ms', 'p99 ms'].map(
            (title) => el('th', { class: 'num' }, title)))),
        body,
      ]));
}

// x = ef on a log scale, y = recall@10 from min(data, 0.5) to 1; the
// self-check curve with its 95% interval as a band, the explicit check
// dashed.
function drawRecallChart(svg, curve, check) {
  svg.replaceChildren();
  const estimate = (curve ?? []).filter((p) => p.samples > 0 && Number.isFinite(p.recall_at_10));
  const checked = (check?.results ?? []).filter((p) => Number.isFinite(p.recall_at_10));
  const all = estimate.concat(checked);
  const left = CHART.left, right = CHART.width - CHART.right;
  const top = CHART.top, bottom = CHART.height - CHART.bottom;

  const efs = [...new Set(all.map((p) => p.ef))].sort((a, b) => a - b);
  let efLow = efs.length ? efs[0] : CHECK_BODY.ef[0];
  let efHigh = efs.length ? efs[efs.length - 1] : CHECK_BODY.ef[CHECK_BODY.ef.length - 1];
  if (efLow === efHigh) { efLow /= 2; efHigh *= 2; }
  const pad = (Math.log(efHigh) - Math.log(efLow)) * 0.04;
  const logLow = Math.log(efLow) - pad, logHigh = Math.log(efHigh) + pad;
  const x = (ef) => left + (Math.log(ef) - logLow) / (logHigh - logLow) * (right - left);

  const lowest = Math.min(0.5, ...all.map((p) => p.recall_at_10 - (p.ci95 ?? 0)));
  const yTenths = Math.max(0, Math.floor(lowest * 10 + 1e-9));
  const yLow = yTenths / 10;
  const y = (recall) => bottom - (recall - yLow) / (1 - yLow) * (bottom - top);
  const clamp = (recall) => Math.min(1, Math.max(yLow, recall));

  // Grid, ticks and axes.
  const yStep = 10 - yTenths > 5 ? 2 : 1;
  for (let tenth = 10; tenth >= yTenths; tenth -= yStep) {
    const py = y(tenth / 10);
    svg.append(svgEl('line', { class: 'grid', x1: left, x2: right, y1: py, y2: py }));
    svg.append(svgEl('text', { x: left - 8, y: py + 4, 'text-anchor': 'end' }, (tenth / 10).toFixed(1)));
  }
  let lastLabel = -Infinity;
  for (const ef of efs.length ? efs : [efLow, efHigh]) {
    const px = x(ef);
    svg.append(svgEl('line', { class: 'grid', x1: px, x2: px, y1: top, y2: bottom }));
    if (px - lastLabel < 26) continue;
    lastLabel = px;
    svg.append(svgEl('line', { class: 'axis', x1: px, x2: px, y1: bottom, y2: bottom + 4 }));
    svg.append(svgEl('text', { x: px, y: bottom + 17, 'text-anchor': 'middle' }, String(ef)));
  }
  svg.append(svgEl('line', { class: 'axis', x1: left, x2: right, y1: bottom, y2: bottom }));
  svg.append(svgEl('line', { class: 'axis', x1: left, x2: left, y1: top, y2: bottom }));
  svg.append(svgEl('text', { x: (left + right) / 2, y: CHART.height - 8, 'text-anchor': 'middle' },
                   'ef (log scale)'));
  svg.append(svgEl('text', { x: 14, y: (top + bottom) / 2, 'text-anchor': 'middle',
                             transform: `rotate(-90 14 ${(top + bottom) / 2})` }, 'recall@10'));

  if (all.length === 0) {
    svg.append(svgEl('text', { class: 'placeholder', x: (left + right) / 2, y: (top + bottom) / 2,
                               'text-anchor': 'middle' },
                     'No recall samples yet'));
  }

  const line = (points) => points.map((p, i) =>
      (i ? 'L' : 'M') + x(p.ef).toFixed(1) + ' ' + y(clamp(p.recall_at_10)).toFixed(1)).join(' ');

  if (estimate.length) {
    const upper = estimate.map((p) => [x(p.ef), y(clamp(p.recall_at_10 + p.ci95))]);
    const lower = estimate.map((p) => [x(p.ef), y(clamp(p.recall_at_10 - p.ci95))]).reverse();
    const band = upper.concat(lower).map(([px, py], i) =>
        (i ? 'L' : 'M') + px.toFixed(1) + ' ' + py.toFixed(1)).join(' ') + ' Z';
    svg.append(svgEl('path', { class: 'band', 'data-band': 'estimate', d: band }));
    svg.append(svgEl('path', { class: 'series-estimate', 'data-series': 'estimate', d: line(estimate) }));
    for (const p of estimate) {
      const dot = svgEl('circle', { class: 'point-estimate', cx: x(p.ef), cy: y(clamp(p.recall_at_10)), r: 3.5 });
      dot.append(svgEl('title', {}, `ef ${p.ef}: ${p.recall_at_10.toFixed(3)} ± ` +
                                    `${p.ci95.toFixed(3)} (${p.samples} samples)`));
      svg.append(dot);
    }
  }
  if (checked.length) {
    svg.append(svgEl('path', { class: 'series-check', 'data-series': 'check', d: line(checked) }));
    for (const p of checked) {
      const px = x(p.ef), py = y(clamp(p.recall_at_10));
      const mark = svgEl('rect', { class: 'point-check', x: px - 3.5, y: py - 3.5, width: 7, height: 7 });
      mark.append(svgEl('title', {}, `ef ${p.ef}: ${p.recall_at_10.toFixed(3)}, ` +
                                     `p50 ${formatMs(p.p50_ms)} ms, p99 ${formatMs(p.p99_ms)} ms`));
      svg.append(mark);
    }
  }

  // Legend, above the plot where the curves (near 1) cannot hide it.
  const legend = svgEl('g', { transform: `translate(${left}, 16)` });
  legend.append(svgEl('rect', { class: 'band', x: 0, y: -7, width: 22, height: 14 }));
  legend.append(svgEl('line', { class: 'series-estimate', x1: 0, x2: 22, y1: 0, y2: 0 }));
  legend.append(svgEl('text', { class: 'legend', x: 30, y: 4 }, 'self-check estimate, 95% interval'));
  legend.append(svgEl('line', { class: 'series-check', x1: 260, x2: 290, y1: 0, y2: 0 }));
  legend.append(svgEl('text', { class: 'legend', x: 298, y: 4 },
                      checked.length ? 'last recall check' : 'recall check (none yet)'));
  svg.append(legend);
}

async function runRecallCheck(name, card) {
  card.button.disabled = true;
  card.button.textContent = 'Checking…';
  card.root.classList.add('busy');
  card.message.textContent = '';
  try {
    card.check = await api('POST', indexPath(name) + '/recall-check', CHECK_BODY);
    redraw(card);
  } catch (error) {
    if (error instanceof AuthError) { showTokenForm(); return; }
    card.message.textContent = 'Recall check failed: ' + error.message;
  } finally {
    card.button.disabled = false;
    card.button.textContent = 'Run recall check';
    card.root.classList.remove('busy');
  }
}

// ---------------------------------------------------------------- playground

let playgroundIndex = null;  // the index whose ids the chips show
// A link can name a search to run once the index shows up: #index=NAME&id=ID.
let linkedSearch = null;

function updatePlaygroundIndexes(names) {
  const select = $('pg-index');
  const current = select.value;
  const existing = [...select.options].map((option) => option.value);
  if (existing.join('\n') !== names.join('\n')) {
    select.replaceChildren(...names.map((name) => el('option', { value: name }, name)));
    if (names.includes(current)) select.value = current;
  }
  $('pg-form').querySelector('button').disabled = names.length === 0;
  if (linkedSearch && names.includes(linkedSearch.index)) {
    select.value = linkedSearch.index;
    $('pg-id').value = linkedSearch.id;
    linkedSearch = null;
    searchByItem();
  }
  if (select.value !== playgroundIndex) loadFirstIds();
}

async function loadFirstIds() {
  const name = $('pg-index').value;
  playgroundIndex = name;
  const chips = $('pg-chips');
  chips.replaceChildren();
  $('pg-ids').replaceChildren();
  if (!name) return;
  try {
    const page = await api('GET', indexPath(name) + '/items?limit=20');
    if (name !== playgroundIndex) return;
    const ids = page.items.map((item) => item.id);
    $('pg-ids').replaceChildren(...ids.map((id) => el('option', { value: id })));
    chips.replaceChildren(el('span', { class: 'muted' }, ids.length ? 'First ids:' : 'The index is empty.'),
        ...ids.map((id) => {
          const chip = el('button', { type: 'button', title: id }, id.length > 24 ? id.slice(0, 23) + '…' : id);
          chip.addEventListener('click', () => { $('pg-id').value = id; searchByItem(); });
          return chip;
        }));
  } catch (error) {
    if (error instanceof AuthError) { showTokenForm(); return; }
    chips.replaceChildren(el('span', { class: 'muted' }, 'Cannot list ids: ' + error.message));
  }
}

function playgroundMessage(text, isError) {
  const message = $('pg-message');
  message.textContent = text;
  message.className = isError ? 'error' : 'muted';
}

async function searchByItem() {
  const name = $('pg-index').value;
  const id = $('pg-id').value;
  if (!name) { playgroundMessage('There is no index to search.', true); return; }
  if (!id) { playgroundMessage('Type an item id or pick one of the first ids.', true); return; }
  playgroundMessage('Searching…', false);
  try {
    let item;
    try {
      item = await api('GET', indexPath(name) + '/items/' + encodeURIComponent(id));
    } catch (error) {
      if (error.status === 404) { playgroundMessage(`No item "${id}" in ${name}.`, true); return; }
      throw error;
    }
    const started = performance.now();
    const answer = await api('POST', indexPath(name) + '/search', { vector: item.vector, k: 10 });
    const elapsed = performance.now() - started;
    const body = $('pg-results').tBodies[0];
    body.replaceChildren(...answer.results.map((result, i) => {
      const metadata = result.metadata === undefined ? '–' : JSON.stringify(result.metadata);
      return el('tr', {}, [
        el('td', { class: 'num' }, String(i + 1)),
        el('td', {}, result.id),
        el('td', { class: 'num' }, result.distance.toFixed(4)),
        el('td', { class: 'metadata' }, el('code', { title: metadata }, metadata)),
      ]);
    }));
    $('pg-results').hidden = false;
    playgroundMessage(`The ${answer.results.length} nearest to "${id}" in ${name} ` +
                      `(${elapsed.toFixed(1)} ms round trip).`, false);
  } catch (error) {
    if (error instanceof AuthError) { showTokenForm(); return; }
    playgroundMessage('Search failed: ' + error.message, true);
  }
}

// ---------------------------------------------------------------- polling

let pollTimer = 0;

// Forgets everything shown, so a refused token leaves no data on screen.
function clearData() {
  clearTimeout(pollTimer);
  for (const row of rows.values()) row.remove();
  rows.clear();
  previous.clear();
  for (const card of cards.values()) card.root.remove();
  cards.clear();
  $('pg-index').replaceChildren();
  $('pg-chips').replaceChildren();
  $('pg-results').tBodies[0].replaceChildren();
  $('pg-results').hidden = true;
  playgroundIndex = null;
}

async function refresh() {
  clearTimeout(pollTimer);
  try {
    const list = await api('GET', '/vectors/index');
    const names = list.names ?? [];
    // An index dropped between the two calls answers 404: leave it out.
    const answers = await Promise.allSettled(names.map((name) => api('GET', indexPath(name))));
    const at = performance.now();
    const all = new Map();
    answers.forEach((answer, i) => {
      if (answer.status === 'fulfilled') all.set(names[i], answer.value);
      else if (answer.reason instanceof AuthError) throw answer.reason;
      else if (answer.reason.status !== 404) throw answer.reason;
    });
    renderTable(all, at);
    renderCharts(all);
    updatePlaygroundIndexes([...all.keys()]);
    setStatus(`Updated ${new Date().toLocaleTimeString()} · ${all.size} ` +
              (all.size === 1 ? 'index' : 'indexes') + ` · every ${POLL_MS / 1000} s`, 'ok');
  } catch (error) {
    if (error instanceof AuthError) {
      showTokenForm();
      setStatus('Unauthorized: enter the API token', 'error');
      return;  // no polling until a token is given
    }
    setStatus('Refresh failed: ' + error.message, 'error');
  }
  pollTimer = setTimeout(refresh, POLL_MS);
}

takeTokenFromFragment();
const link = fragmentParams();
if (link.has('index') && link.has('id')) linkedSearch = { index: link.get('index'), id: link.get('id') };
buildTableHead();
$('pg-index').addEventListener('change', loadFirstIds);
$('pg-form').addEventListener('submit', (event) => { event.preventDefault(); searchByItem(); });
refresh();
</script>
</body>
</html>
)html";
  return kPage;
}

}  // namespace vectord::http
