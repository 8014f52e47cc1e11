// runnel console: one page over the worker's REST API (Kafka Connect's paths) and its
// /ui/api/ summaries. Plain JavaScript, no framework and no build step: the worker embeds
// this file as written.
'use strict';

let main = document.getElementById('main');
const alertBox = document.getElementById('alert');
const announcer = document.getElementById('announce');

// ---------- helpers

const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => (
  { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const enc = encodeURIComponent;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fmtNum(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits });
}
function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0; let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
function fmtAgo(ms) {
  if (!ms) return 'never';
  return `${fmtDuration(Math.max(0, Date.now() - ms))} ago`;
}
function badge(state) { return `<span class="badge s-${esc(state)}">${esc(state)}</span>`; }
function shortClass(c) { return String(c || '').split('.').pop(); }

function announce(text) { announcer.textContent = ''; setTimeout(() => { announcer.textContent = text; }, 30); }
function showError(e) {
  alertBox.textContent = e && e.message ? e.message : String(e);
  alertBox.hidden = false;
}
function clearError() { alertBox.hidden = true; alertBox.textContent = ''; }

// ---------- the API, with the worker's auth

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
const auth = { header: sessionStorage.getItem('runnel.auth'), scheme: null };
function headers(extra = {}) {
  const h = { 'x-runnel-console': '1', Accept: 'application/json', ...extra };
  if (auth.header) h.Authorization = auth.header;
  return h;
}
async function api(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }) };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const r = await fetch(path, init);
  if (r.status === 401) {
    auth.scheme = r.headers.get('x-runnel-authenticate') || 'Bearer';
    throw new ApiError(401, 'This worker requires authentication.');
  }
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  if (!r.ok) throw new ApiError(r.status, (json && json.message) || text || r.statusText);
  return json;
}

// Server-sent events read with fetch (EventSource cannot send the Authorization header).
function openStream(path, onEvent) {
  const ctl = new AbortController();
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        const r = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), signal: ctl.signal });
        if (r.status === 401) { auth.scheme = r.headers.get('x-runnel-authenticate') || 'Bearer'; loginPage(); return; }
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const chunk = buf.slice(0, end); buf = buf.slice(end + 2);
            let event = 'message'; let data = '';
            for (const line of chunk.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).replace(/^ /, '');
            }
            if (data) onEvent(event, JSON.parse(data));
          }
        }
      } catch (_) {
        if (ctl.signal.aborted) return;
      }
      await sleep(2000);
    }
  })();
  return () => ctl.abort();
}

// ---------- the confirm dialog

function confirmAction(title, text, okLabel) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = 'cancel';
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

// ---------- pages

let worker = { read_only: false, kafka: null };
let leave = null; // the current page's cleanup (streams, timers)

function setPage(title, nav) {
  document.title = `${title} · runnel console`;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}
function focusHeading() {
  const h = main.querySelector('h1');
  if (h) { h.tabIndex = -1; h.focus({ preventScroll: true }); }
}

function loginPage() {
  const basic = (auth.scheme || '').startsWith('Basic');
  setPage('Sign in', '');
  main.innerHTML = `<h1>Sign in</h1>
    <p>This worker requires ${basic ? 'a user name and password' : 'a bearer token'} (the worker's
    <code>${basic ? '--auth-user / --auth-password' : '--auth-token'}</code>).</p>
    <form class="login" id="login">
      ${basic ? `<div class="field"><label for="login-user">User</label><input id="login-user" autocomplete="username" required></div>
      <div class="field"><label for="login-password">Password</label><input id="login-password" type="password" autocomplete="current-password" required></div>`
    : '<div class="field"><label for="login-token">Token</label><input id="login-token" type="password" autocomplete="current-password" required></div>'}
      <button class="primary" type="submit">Sign in</button>
    </form>`;
  focusHeading();
  document.getElementById('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    auth.header = basic
      ? `Basic ${btoa(`${document.getElementById('login-user').value}:${document.getElementById('login-password').value}`)}`
      : `Bearer ${document.getElementById('login-token').value}`;
    sessionStorage.setItem('runnel.auth', auth.header);
    api('GET', '/ui/api/overview').then((d) => setWorker(d.worker)).catch(() => {});
    route();
  });
}

// ----- overview

const COLUMNS = [
  ['name', 'Name'], ['type', 'Type'], ['class', 'Class'], ['state', 'State'], ['worker_id', 'Worker'],
  ['records_per_s', 'Events/s', true], ['events', 'Events', true],
  ['ms_behind_source', 'Behind source', true], ['last_event_ms', 'Last event', true],
  ['errors', 'Errors', true], ['restarts', 'Restarts', true],
];

// What a connector is doing: a failed task fails it, else its task's state, else its own.
function effective(c) {
  if (c.state === 'FAILED' || c.tasks.some((t) => t.state === 'FAILED')) return 'FAILED';
  return c.tasks.length ? c.tasks[0].state : c.state;
}

async function overviewPage() {
  setPage('Connectors', 'overview');
  const view = { filter: sessionStorage.getItem('runnel.filter') || '', state: '', sort: 'name', desc: false, data: null };
  main.innerHTML = `<h1>Connectors</h1>
    <p class="summary" id="summary">Loading…</p>
    <div class="toolbar">
      <div><label for="filter">Filter by name or class</label><input id="filter" type="search" value="${esc(view.filter)}"></div>
      <div><label for="state-filter">State</label><select id="state-filter">
        <option value="">All</option><option>RUNNING</option><option>FAILED</option><option>PAUSED</option>
        <option>STOPPED</option><option>UNASSIGNED</option></select></div>
    </div>
    <table id="connectors"><caption class="sr-only">Connectors of this worker</caption>
      <thead><tr>${COLUMNS.map(([key, label, num]) => `<th scope="col" class="${num ? 'num' : ''}" data-key="${key}"><button type="button" data-sort="${key}">${label}<span class="arrow" aria-hidden="true"></span></button></th>`).join('')}</tr></thead>
      <tbody></tbody></table>`;
  const tbody = main.querySelector('tbody');
  const render = () => {
    const d = view.data;
    if (!d) return;
    const f = view.filter.toLowerCase();
    let rows = d.connectors.filter((c) => (!f || c.name.toLowerCase().includes(f) || c.class.toLowerCase().includes(f))
      && (!view.state || effective(c) === view.state));
    const k = view.sort;
    rows.sort((a, b) => {
      const x = a[k] ?? -1; const y = b[k] ?? -1;
      const c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
      return view.desc ? -c : c;
    });
    const count = (s) => d.connectors.filter((c) => effective(c) === s).length;
    document.getElementById('summary').textContent = `${d.connectors.length} connectors: ${count('RUNNING')} running, `
      + `${count('FAILED')} failed, ${count('PAUSED')} paused, ${count('STOPPED')} stopped. Showing ${rows.length}.`;
    if (!d.connectors.length) {
      tbody.innerHTML = `<tr><td colspan="${COLUMNS.length}">No connectors yet. ${worker.read_only ? '' : '<a href="#/new">Create one</a>.'}</td></tr>`;
      return;
    }
    rows = rows.slice(0, 2000);
    tbody.innerHTML = rows.map((c) => {
      const tasks = c.tasks.map((t) => `task ${t.id} ${badge(t.state)}`).join(' ');
      const warn = c.warning ? ` <span class="warn" title="${esc(c.warning)}">⚠ warning</span>` : '';
      return `<tr data-name="${esc(c.name)}">
        <td><a href="#/connectors/${enc(c.name)}">${esc(c.name)}</a></td>
        <td>${esc(c.type)}</td><td title="${esc(c.class)}">${esc(shortClass(c.class))}</td>
        <td>${badge(c.state)} ${tasks}${warn}</td>
        <td>${esc(c.worker_id || '–')}</td>
        <td class="num">${fmtNum(c.records_per_s, 1)}</td><td class="num" data-col="events">${fmtNum(c.events)}</td>
        <td class="num">${c.last_event_ms ? fmtDuration(c.ms_behind_source) : '–'}</td>
        <td class="num">${fmtAgo(c.last_event_ms)}</td>
        <td class="num">${fmtNum(c.errors)}</td><td class="num">${fmtNum(c.restarts)}</td></tr>`;
    }).join('');
    for (const th of main.querySelectorAll('th[data-key]')) {
      const sorted = th.dataset.key === k;
      th.setAttribute('aria-sort', sorted ? (view.desc ? 'descending' : 'ascending') : 'none');
      th.querySelector('.arrow').textContent = sorted ? (view.desc ? ' ▼' : ' ▲') : '';
    }
  };
  const filter = document.getElementById('filter');
  filter.addEventListener('input', () => { view.filter = filter.value; sessionStorage.setItem('runnel.filter', view.filter); render(); });
  document.getElementById('state-filter').addEventListener('change', (e) => { view.state = e.target.value; render(); });
  main.querySelector('thead').addEventListener('click', (e) => {
    const key = e.target.closest('button')?.dataset.sort;
    if (!key) return;
    view.desc = view.sort === key ? !view.desc : COLUMNS.find((c) => c[0] === key)[2] === true;
    view.sort = key;
    render();
  });
  // The first page shown reuses the overview read at start (the worker's description).
  view.data = await (firstOverview || api('GET', '/ui/api/overview'));
  firstOverview = null;
  setWorker(view.data.worker);
  render();
  return openStream('/ui/api/stream', (event, data) => {
    if (event !== 'overview') return;
    view.data = data;
    render();
  });
}

function setWorker(w) {
  worker = w;
  document.getElementById('worker').textContent = `worker ${w.id} · runnel ${w.version}${w.read_only ? ' · read-only' : ''}`;
  document.getElementById('nav-new').parentElement.hidden = w.read_only;
}

// ----- one connector

function chart(title, values, times, opts = {}) {
  const W = 600; const H = 110; const pad = 4;
  const pts = values.map((v, i) => [times[i], v]).filter((p) => p[1] !== null && p[1] !== undefined);
  const limit = opts.limit ?? null;
  const max = Math.max(1e-9, ...pts.map((p) => p[1]), limit ?? 0) * 1.1;
  const t0 = times.length ? times[0] : 0; const t1 = times.length ? times[times.length - 1] : 1;
  const x = (t) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (W - 2 * pad);
  const y = (v) => H - pad - (v / max) * (H - 2 * pad);
  const line = pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
  const last = pts.length ? pts[pts.length - 1][1] : null;
  const shown = (v) => (opts.format || fmtNum)(v);
  const limitLine = limit !== null
    ? `<line x1="0" x2="${W}" y1="${y(limit).toFixed(1)}" y2="${y(limit).toFixed(1)}" stroke="#b3261e" stroke-dasharray="6 4" stroke-width="1.5"/>
       <text x="${W - 4}" y="${Math.max(12, y(limit) - 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#b3261e">limit ${esc(shown(limit))}</text>` : '';
  const label = `${title}: latest ${last === null ? 'no data' : shown(last)}, highest ${pts.length ? shown(Math.max(...pts.map((p) => p[1]))) : 'no data'} over the last ${fmtDuration(t1 - t0)}`
    + (limit !== null ? `, limit ${shown(limit)}` : '');
  return `<figure class="chart"><figcaption><span>${esc(title)}</span><span>${last === null ? '–' : esc(shown(last))}</span></figcaption>
    <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${esc(label)}">
      <line x1="0" x2="${W}" y1="${H - pad}" y2="${H - pad}" stroke="#d0d7de"/>
      ${limitLine}
      ${pts.length > 1 ? `<polyline points="${line}" fill="none" stroke="#0b5cad" stroke-width="2" vector-effect="non-scaling-stroke"/>` : ''}
    </svg></figure>`;
}

function snapshotHtml(c) {
  const s = c.snapshot;
  if (!s.running && !s.tables_total) return '';
  const h = c.history;
  let eta = '';
  if (s.running && s.tables_done > 0 && s.tables_total > s.tables_done) {
    const first = h.snapshot_rows.findIndex((r) => r > 0);
    if (first >= 0) {
      const elapsed = Date.now() - h.at_ms[first] + h.interval_ms;
      eta = `, about ${fmtDuration((elapsed * (s.tables_total - s.tables_done)) / s.tables_done)} left (estimated from tables done)`;
    }
  }
  return `<h2>Snapshot</h2><div class="panel" id="snapshot">
    <label for="snapshot-progress">${s.running ? 'Snapshot running' : 'Snapshot finished'}: ${fmtNum(s.tables_done)} of ${fmtNum(s.tables_total)} tables, ${fmtNum(s.rows)} rows${esc(eta)}</label>
    <progress id="snapshot-progress" max="${Math.max(1, s.tables_total)}" value="${s.tables_done}"></progress></div>`;
}

function slotHtml(c) {
  const s = c.slot;
  if (!s) return '';
  return `<h2>Replication slot</h2><dl class="figures" id="slot">
    <div><dt>Slot</dt><dd class="mono">${esc(s.name)}</dd></div>
    <div><dt>Active</dt><dd>${s.active === null ? 'not seen yet' : (s.active ? 'yes' : '<span class="warn">no</span>')}</dd></div>
    <div><dt>Retained WAL</dt><dd id="slot-retained">${fmtBytes(s.retained_wal_bytes)}</dd></div>
    <div><dt>Confirmed lag</dt><dd>${fmtBytes(s.flush_lag_bytes)}</dd></div>
    <div><dt>slot.max.retained.wal.bytes</dt><dd>${s.max_retained_wal_bytes ? fmtBytes(s.max_retained_wal_bytes) : 'no limit'}</dd></div></dl>`;
}

function liveHtml(c) {
  const st = c.status;
  const traces = [];
  if (st.connector.trace) traces.push(['Connector', st.connector.trace]);
  for (const t of st.tasks) if (t.trace) traces.push([`Task ${t.id}`, t.trace]);
  const warnings = [st.connector.warning, ...st.tasks.map((t) => t.warning)].filter(Boolean);
  const h = c.history;
  const charts = [
    chart('Events per second', h.records_per_s, h.at_ms, { format: (v) => fmtNum(v, 1) }),
    chart('Behind source', h.ms_behind_source, h.at_ms, { format: fmtDuration }),
    chart('Sink latency', h.sink_latency_us.map((v) => v / 1000), h.at_ms, { format: fmtDuration }),
    chart('Queue fill', h.queue_fill.map((v) => v * 100), h.at_ms, { format: (v) => `${fmtNum(v)} %` }),
  ];
  if (c.slot) {
    charts.push(chart('Slot retained WAL', h.retained_wal_bytes, h.at_ms,
      { format: fmtBytes, limit: c.slot.max_retained_wal_bytes || null }));
  }
  return `<p>Connector ${badge(st.connector.state)} ${st.tasks.map((t) => `task ${t.id} ${badge(t.state)}`).join(' ')}
      <span class="muted">on worker ${esc(st.connector.worker_id)}</span></p>
    ${warnings.map((w) => `<p class="warn">⚠ ${esc(w)}</p>`).join('')}
    ${traces.map(([who, t]) => `<h2>${who} failure</h2><pre class="trace" id="trace" tabindex="0">${esc(t)}</pre>`).join('')}
    <dl class="figures">
      <div><dt>Events written</dt><dd id="events">${fmtNum(c.events)}</dd></div>
      <div><dt>Records durable</dt><dd>${fmtNum(c.records)}</dd></div>
      <div><dt>Behind source</dt><dd>${c.last_event_ms ? fmtDuration(c.ms_behind_source) : '–'}</dd></div>
      <div><dt>Last event</dt><dd>${fmtAgo(c.last_event_ms)}</dd></div>
      <div><dt>Sink latency</dt><dd>${fmtDuration(c.sink_latency_us / 1000)}</dd></div>
      <div><dt>Errors</dt><dd>${fmtNum(c.errors)}</dd></div>
      <div><dt>Restarts</dt><dd>${fmtNum(c.restarts)}</dd></div>
    </dl>
    ${snapshotHtml(c)}
    ${slotHtml(c)}
    <h2>Last hour</h2><div class="charts">${charts.join('')}</div>`;
}

function offsetsHtml(c) {
  const stopped = c.status.connector.state === 'STOPPED';
  const body = Array.isArray(c.offsets) ? JSON.stringify({ offsets: c.offsets }, null, 2) : (c.offsets.error || '');
  if (!stopped || c.read_only) {
    return `<pre id="offsets" tabindex="0">${esc(body)}</pre>${c.read_only ? '' : '<p class="muted">Stop the connector to alter or reset its offsets.</p>'}`;
  }
  return `<label for="offsets-edit">Offsets (edit and alter, as <code>PATCH /connectors/${esc(c.name)}/offsets</code>)</label>
    <textarea id="offsets-edit" rows="8">${esc(body)}</textarea>
    <div class="actions"><button type="button" data-offsets="alter">Alter offsets</button>
    <button type="button" class="danger" data-offsets="reset">Reset offsets</button></div>`;
}

function topicsHtml(c) {
  if (!c.topics.length) return 'none written yet';
  return c.topics.map((t) => (worker.topics ? `<a class="mono" href="#/topics/${enc(t)}">${esc(t)}</a>` : `<span class="mono">${esc(t)}</span>`)).join(', ');
}

async function connectorPage(name) {
  setPage(name, 'overview');
  const base = `/connectors/${enc(name)}`;
  let c = await api('GET', `/ui/api/connectors/${enc(name)}`);
  const actions = c.read_only ? '' : `<div class="actions" role="group" aria-label="Actions">
      <button type="button" data-act="pause">Pause</button><button type="button" data-act="resume">Resume</button>
      <button type="button" data-act="stop">Stop</button><button type="button" data-act="restart">Restart</button>
      <a href="#/connectors/${enc(name)}/edit">Edit config</a>
      <button type="button" class="danger" data-act="delete">Delete</button></div>`;
  main.innerHTML = `<p><a href="#/">← Connectors</a></p>
    <h1>${esc(name)}</h1><p class="muted">${esc(c.type)} connector · <span class="mono">${esc(c.class)}</span></p>
    ${actions}
    <section id="live" aria-label="Status and figures">${liveHtml(c)}</section>
    <h2>Checks</h2><p><button type="button" id="run-check">Run checks</button> <span class="muted">what <code>runnel check</code> verifies, on the live systems</span></p>
    <div id="check-result" aria-live="polite"></div>
    <h2>Offsets</h2><div id="offsets-section">${offsetsHtml(c)}</div>
    <h2>Topics</h2><p id="topics">${topicsHtml(c)}</p>
    <h2>Config</h2><table id="config"><caption class="sr-only">Config (secrets masked)</caption>
      <thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead>
      <tbody>${Object.entries(c.config).map(([k, v]) => `<tr><td class="mono">${esc(k)}</td><td class="mono">${esc(v)}</td></tr>`).join('')}</tbody></table>`;
  const refresh = async () => {
    c = await api('GET', `/ui/api/connectors/${enc(name)}`);
    document.getElementById('live').innerHTML = liveHtml(c);
    document.getElementById('topics').innerHTML = topicsHtml(c);
    const editing = document.getElementById('offsets-edit');
    if (!editing || document.activeElement !== editing) document.getElementById('offsets-section').innerHTML = offsetsHtml(c);
  };
  main.addEventListener('click', async (e) => {
    const btn = e.target.closest('button');
    if (!btn || !main.contains(btn)) return;
    clearError();
    try {
      const act = btn.dataset.act;
      if (act === 'delete') {
        if (!await confirmAction(`Delete ${name}?`, 'The connector, its config and its offsets are removed from this worker. Its replication slot stays on the database.', 'Delete')) return;
        await api('DELETE', base);
        announce(`${name} deleted`);
        location.hash = '#/';
        return;
      }
      if (act) {
        const method = act === 'restart' ? 'POST' : 'PUT';
        await api(method, `${base}/${act}${act === 'restart' ? '?includeTasks=true' : ''}`);
        announce(`${act} requested for ${name}`);
        await refresh();
        return;
      }
      if (btn.dataset.offsets === 'alter') {
        const r = await api('PATCH', `${base}/offsets`, document.getElementById('offsets-edit').value);
        announce(r.message);
        await refresh();
      } else if (btn.dataset.offsets === 'reset') {
        if (!await confirmAction(`Reset the offsets of ${name}?`, 'When it is resumed the connector starts over as if new (a source takes a new snapshot).', 'Reset')) return;
        const r = await api('DELETE', `${base}/offsets`);
        announce(r.message);
        await refresh();
      } else if (btn.id === 'run-check') {
        await runCheck(btn, document.getElementById('check-result'), name);
      }
    } catch (err) { showError(err); }
  });
  const timer = setInterval(() => { refresh().catch(() => {}); }, 5000);
  return () => clearInterval(timer);
}

// `runnel check` of one connector into `out`, its button disabled meanwhile; a failure of
// the check itself is written where its result would be.
async function runCheck(btn, out, name) {
  btn.disabled = true;
  out.textContent = 'Checking…';
  try {
    out.innerHTML = checkHtml(await api('GET', `/ui/api/connectors/${enc(name)}/check`));
  } catch (e) {
    out.textContent = e.message;
  } finally {
    btn.disabled = false;
  }
}

function checkHtml(r) {
  return `<ul class="checks">${r.problems.map((p) => `<li class="bad">✗ ${esc(p.message)}</li>`).join('')}
    ${r.warnings.map((w) => `<li class="warn">⚠ ${esc(w)}</li>`).join('')}
    ${r.passed.map((p) => `<li class="okc">✓ ${esc(p)}</li>`).join('')}</ul>
    <p><strong>${r.ok ? 'Ready: the connector can run.' : `${r.problems.length} problem(s).`}</strong></p>`;
}

// ----- new / edit connector

function fieldId(key) { return `f-${key.replace(/[^A-Za-z0-9_-]/g, '_')}`; }

function fieldHtml(d) {
  const id = fieldId(d.name);
  const help = d.documentation ? `<small class="help" id="${id}-help">${esc(d.documentation)}</small>` : '';
  const described = `${d.documentation ? `${id}-help ` : ''}${id}-err`;
  let input;
  if (d.type === 'BOOLEAN') {
    input = `<select id="${id}" data-key="${esc(d.name)}" aria-describedby="${described}">
      <option value="">default${d.default_value !== null ? ` (${esc(d.default_value)})` : ''}</option><option>true</option><option>false</option></select>`;
  } else {
    input = `<input id="${id}" data-key="${esc(d.name)}" type="${d.type === 'PASSWORD' ? 'password' : 'text'}" autocomplete="off"
      ${d.required ? 'required aria-required="true"' : ''} placeholder="${d.default_value !== null ? esc(d.default_value) : ''}" aria-describedby="${described}">`;
  }
  return `<div class="field"><label for="${id}">${esc(d.name)}${d.required ? ' <span class="req" aria-hidden="true">*</span>' : ''}</label>
    ${input}<span class="error" id="${id}-err"></span>${help}</div>`;
}

async function editorPage(name) {
  const editing = name !== undefined;
  setPage(editing ? `Edit ${name}` : 'New connector', editing ? 'overview' : 'new');
  const plugins = (await api('GET', '/connector-plugins')).map((p) => p.class);
  const existing = editing ? await api('GET', `/connectors/${enc(name)}/config`) : null;
  main.innerHTML = `<h1>${editing ? `Edit ${esc(name)}` : 'New connector'}</h1>
    <form id="editor" novalidate>
      <div class="toolbar">
        <div><label for="connector-name">Name</label><input id="connector-name" required aria-required="true" value="${esc(name || '')}" ${editing ? 'readonly' : ''}></div>
        <div><label for="plugin">Connector class</label><select id="plugin">${plugins.map((p) => `<option>${esc(p)}</option>`).join('')}</select></div>
      </div>
      <details id="paste-box"><summary>Paste a config you already have (Kafka Connect JSON)</summary>
        <label for="paste">JSON: <code>{"name": …, "config": {…}}</code> or the config object alone</label>
        <textarea id="paste" rows="8"></textarea>
        <p><button type="button" id="paste-apply">Fill the form from this JSON</button></p></details>
      <div id="form-errors" class="errors" aria-live="polite"></div>
      <div id="fields"></div>
      <div class="field"><label for="other-keys">Other keys, one <code>key=value</code> per line (sinks, transforms, converters)</label>
        <textarea id="other-keys" rows="5" aria-describedby="other-keys-err"></textarea><span class="error" id="other-keys-err"></span></div>
      <p class="muted" id="validation-state" aria-live="polite"></p>
      <div class="actions"><button class="primary" type="submit" id="submit">${editing ? 'Save config' : 'Create connector'}</button></div>
    </form>`;
  const pluginSel = document.getElementById('plugin');
  let defs = [];
  const values = () => {
    const cfg = { 'connector.class': pluginSel.value };
    for (const el of main.querySelectorAll('[data-key]')) if (el.value !== '') cfg[el.dataset.key] = el.value;
    for (const line of document.getElementById('other-keys').value.split('\n')) {
      const t = line.trim();
      if (!t || t.startsWith('#')) continue;
      const i = t.indexOf('=');
      if (i > 0) cfg[t.slice(0, i).trim()] = t.slice(i + 1).trim();
    }
    return cfg;
  };
  const fill = (cfg) => {
    const other = [];
    for (const [k, v] of Object.entries(cfg)) {
      if (k === 'connector.class' || k === 'name') continue;
      const el = main.querySelector(`[data-key="${CSS.escape(k)}"]`);
      if (el) el.value = v; else other.push(`${k}=${v}`);
    }
    document.getElementById('other-keys').value = other.join('\n');
  };
  const renderFields = async (cfg) => {
    // connector.class is the select above.
    defs = (await api('GET', `/connector-plugins/${enc(pluginSel.value)}/config`)).filter((x) => x.name !== 'connector.class');
    const required = defs.filter((d) => d.required);
    const groups = new Map();
    for (const d of defs.filter((x) => !x.required)) {
      const g = d.group || 'Other';
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(d);
    }
    document.getElementById('fields').innerHTML = `<fieldset><legend>Required</legend><div class="fields">${required.map(fieldHtml).join('')}</div></fieldset>
      ${[...groups].map(([g, ds]) => `<details class="group"><summary>${esc(g)} (${ds.length} keys, defaults shown)</summary><div class="fields">${ds.map(fieldHtml).join('')}</div></details>`).join('')}`;
    if (cfg) fill(cfg);
  };
  const showErrors = (result) => {
    for (const el of main.querySelectorAll('.field .error')) el.textContent = '';
    for (const el of main.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const other = [];
    for (const item of result.configs) {
      const errs = item.value.errors;
      if (!errs.length) continue;
      const el = main.querySelector(`[data-key="${CSS.escape(item.value.name)}"]`);
      if (el) {
        el.setAttribute('aria-invalid', 'true');
        document.getElementById(`${el.id}-err`).textContent = errs.join(' ');
        // A field with an error is never hidden in a closed group.
        const group = el.closest('details');
        if (group) group.open = true;
      } else {
        other.push(...errs);
      }
    }
    document.getElementById('other-keys-err').textContent = other.join(' ');
    const state = document.getElementById('validation-state');
    state.textContent = result.error_count ? `${result.error_count} problem(s) found.` : 'The config is valid.';
    state.className = result.error_count ? 'bad' : 'okc';
  };
  let seq = 0;
  const validate = async () => {
    const mine = ++seq;
    document.getElementById('validation-state').textContent = 'Validating…';
    try {
      const cfg = values();
      cfg.name = document.getElementById('connector-name').value || 'validation';
      const result = await api('PUT', `/connector-plugins/${enc(pluginSel.value)}/config/validate`, cfg);
      if (mine === seq) showErrors(result);
      return result;
    } catch (e) {
      if (mine === seq) showError(e);
      return null;
    }
  };
  let timer = null;
  const later = () => { clearTimeout(timer); timer = setTimeout(validate, 500); };
  main.addEventListener('input', (e) => { if (e.target.id !== 'paste') later(); });
  main.addEventListener('change', (e) => { if (e.target.id !== 'paste' && e.target.id !== 'plugin') later(); });
  pluginSel.addEventListener('change', async () => { await renderFields(values()); later(); });
  document.getElementById('paste-apply').addEventListener('click', async () => {
    clearError();
    let parsed;
    try { parsed = JSON.parse(document.getElementById('paste').value); } catch (e) { showError(new Error(`Not valid JSON: ${e.message}`)); return; }
    const cfg = parsed.config && typeof parsed.config === 'object' ? parsed.config : parsed;
    const nm = parsed.name || cfg.name;
    if (nm && !editing) document.getElementById('connector-name').value = nm;
    if (cfg['connector.class']) {
      const known = plugins.find((p) => p === cfg['connector.class'] || shortClass(p) === cfg['connector.class']);
      if (known) pluginSel.value = known;
    }
    await renderFields(cfg);
    document.getElementById('paste-box').open = false;
    announce('Form filled from the pasted JSON');
    validate();
  });
  document.getElementById('editor').addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError();
    const nm = document.getElementById('connector-name').value.trim();
    if (!nm) { showError(new Error('The connector needs a name.')); document.getElementById('connector-name').focus(); return; }
    const result = await validate();
    if (result && result.error_count) {
      main.querySelector('[aria-invalid="true"]')?.focus();
      return;
    }
    try {
      const cfg = values();
      if (editing) await api('PUT', `/connectors/${enc(nm)}/config`, cfg);
      else await api('POST', '/connectors', { name: nm, config: cfg });
      announce(`${nm} ${editing ? 'saved' : 'created'}`);
      location.hash = `#/connectors/${enc(nm)}`;
    } catch (err) { showError(err); }
  });
  if (existing) {
    const known = plugins.find((p) => p === existing['connector.class'] || shortClass(p) === existing['connector.class']);
    if (known) pluginSel.value = known;
  }
  await renderFields(existing);
  return () => clearTimeout(timer);
}

// ----- databases

// Every replication slot of a server, as the worker's slot watch last saw it.
function slotsHtml(s) {
  const slots = s.report && s.report.slots;
  if (!slots) return '';
  const ours = new Set(s.connectors.filter((c) => c.slot).map((c) => c.slot.name));
  return `<h3>All replication slots on this server <span class="muted">(seen ${fmtAgo(s.seen_ms)})</span></h3>
    <table><caption class="sr-only">Replication slots on ${esc(s.server)}</caption><thead><tr><th scope="col">Slot</th><th scope="col">Database</th><th scope="col">Plugin</th>
    <th scope="col">Active</th><th scope="col">Held by</th><th scope="col" class="num">Retained WAL</th><th scope="col" class="num">Confirmed lag</th><th scope="col">Used by this worker</th></tr></thead>
    <tbody>${slots.map((x) => `<tr><td class="mono">${esc(x.slot)}</td><td>${esc(x.database)}</td><td>${esc(x.plugin)}</td>
      <td>${x.active ? 'yes' : '<span class="warn">no</span>'}</td><td class="mono">${esc(x.held_by || '–')}</td>
      <td class="num">${fmtBytes(x.retained_wal_bytes)}</td><td class="num">${fmtBytes(x.flush_lag_bytes)}</td>
      <td>${ours.has(x.slot) ? 'yes' : '<span class="warn">no: if nothing will read it, drop it</span>'}</td></tr>`).join('') || '<tr><td colspan="8">No slots.</td></tr>'}</tbody></table>`;
}

async function databasesPage() {
  setPage('Databases', 'databases');
  const d = await api('GET', '/ui/api/databases');
  main.innerHTML = `<h1>Databases</h1>
    <p class="summary">Each database server the source connectors read, their replication slots as the worker's slot
    watch last saw them, and <code>runnel check</code> for each connector.</p>
    <p><button type="button" id="check-all">Run all checks</button></p>
    ${d.servers.length ? '' : '<p>No source connector reads a database yet.</p>'}
    ${d.servers.map((s) => `<section aria-labelledby="srv-${esc(s.server)}"><h2 id="srv-${esc(s.server)}" class="mono">${esc(s.server)}</h2>
      <table><thead><tr><th scope="col">Connector</th><th scope="col">Database</th><th scope="col">State</th><th scope="col">Slot</th>
      <th scope="col">Active</th><th scope="col" class="num">Retained WAL</th><th scope="col" class="num">Confirmed lag</th><th scope="col" class="num">Limit</th><th scope="col">Check</th></tr></thead>
      <tbody>${s.connectors.map((c) => `<tr><td><a href="#/connectors/${enc(c.name)}">${esc(c.name)}</a></td><td>${esc(c.database)}</td><td>${badge(effective(c))}</td>
        <td class="mono">${c.slot ? esc(c.slot.name) : '–'}</td>
        <td>${!c.slot || c.slot.active === null ? '–' : (c.slot.active ? 'yes' : '<span class="warn">no</span>')}</td>
        <td class="num">${c.slot ? fmtBytes(c.slot.retained_wal_bytes) : '–'}</td><td class="num">${c.slot ? fmtBytes(c.slot.flush_lag_bytes) : '–'}</td>
        <td class="num">${c.slot && c.slot.max_retained_wal_bytes ? fmtBytes(c.slot.max_retained_wal_bytes) : '–'}</td>
        <td><button type="button" data-check="${esc(c.name)}" aria-label="Check ${esc(c.name)}">Check</button><div data-check-out="${esc(c.name)}" aria-live="polite"></div></td></tr>`).join('')}
      </tbody></table>${slotsHtml(s)}</section>`).join('')}`;
  const checkRow = (btn) => runCheck(btn, main.querySelector(`[data-check-out="${CSS.escape(btn.dataset.check)}"]`), btn.dataset.check);
  main.addEventListener('click', (e) => {
    const btn = e.target.closest('button');
    if (!btn) return;
    if (btn.id === 'check-all') { for (const b of main.querySelectorAll('[data-check]')) checkRow(b); } else if (btn.dataset.check) checkRow(btn);
  });
}

// ----- topics

// A Kafka Connect JSON message's payload (its schema left out), else the text, cut short.
function gist(text) {
  let shown = String(text);
  try {
    const v = JSON.parse(text);
    if (v && typeof v === 'object' && 'schema' in v && 'payload' in v) shown = JSON.stringify(v.payload);
  } catch (_) { /* not JSON: the text itself */ }
  return shown.length > 120 ? `${shown.slice(0, 120)}…` : shown;
}

function pretty(text) {
  if (text === null || text === undefined) return 'null';
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return String(text); }
}

async function topicsPage() {
  setPage('Topics', 'topics');
  const d = await api('GET', '/ui/api/overview');
  const lists = await Promise.all(d.connectors.map(async (c) => [c.name, (await api('GET', `/connectors/${enc(c.name)}/topics`))[c.name].topics]));
  const writers = new Map();
  for (const [nm, topics] of lists) for (const t of topics) { if (!writers.has(t)) writers.set(t, []); writers.get(t).push(nm); }
  const by = (t) => (writers.get(t) || []).map((c) => `<a href="#/connectors/${enc(c)}">${esc(c)}</a>`).join(', ');
  if (!d.worker.topics) {
    main.innerHTML = `<h1>Topics</h1>
      <p class="summary">This worker has no Kafka cluster of its own (<code>--bootstrap-servers</code>): the topics each
      connector has written to (<code>GET /connectors/{name}/topics</code>).</p>
      <table><thead><tr><th scope="col">Topic</th><th scope="col">Connectors</th></tr></thead><tbody>
      ${[...writers.keys()].sort().map((t) => `<tr><td class="mono">${esc(t)}</td><td>${by(t)}</td></tr>`).join('')
        || '<tr><td colspan="2">No topic written yet.</td></tr>'}</tbody></table>`;
    return undefined;
  }
  const t = (await api('GET', '/ui/api/topics')).topics;
  main.innerHTML = `<h1>Topics</h1>
    <p class="summary">The worker's Kafka cluster <span class="mono">${esc(d.worker.kafka)}</span>: ${t.length} topics.</p>
    <table id="topics"><caption class="sr-only">Topics</caption><thead><tr><th scope="col">Topic</th><th scope="col" class="num">Partitions</th>
      <th scope="col" class="num">Messages</th><th scope="col">Offsets (partition: low–high)</th><th scope="col">Written by</th></tr></thead><tbody>
    ${t.map((x) => `<tr><td class="mono"><a href="#/topics/${enc(x.name)}">${esc(x.name)}</a></td><td class="num">${x.partitions.length}</td>
      <td class="num">${fmtNum(x.messages)}</td><td class="mono">${x.partitions.map((p) => `${p.partition}: ${p.low}–${p.high}`).join(', ')}</td>
      <td>${by(x.name)}</td></tr>`).join('') || '<tr><td colspan="5">No topics.</td></tr>'}</tbody></table>`;
  return undefined;
}

async function topicPage(topic) {
  setPage(topic, 'topics');
  const all = (await api('GET', '/ui/api/topics')).topics;
  const info = all.find((x) => x.name === topic);
  if (!info) throw new Error(`Topic ${topic} does not exist on the worker's Kafka cluster.`);
  main.innerHTML = `<p><a href="#/topics">← Topics</a></p><h1>${esc(topic)}</h1>
    <p class="summary">${info.partitions.length} partitions, ${fmtNum(info.messages)} messages
      (${info.partitions.map((p) => `partition ${p.partition}: offsets ${p.low}–${p.high}`).join('; ')}).</p>
    <form id="browse" class="toolbar">
      <div><label for="b-partition">Partition</label><select id="b-partition"><option value="">All</option>
        ${info.partitions.map((p) => `<option>${p.partition}</option>`).join('')}</select></div>
      <div><label for="b-offset">From offset (empty: the newest)</label><input id="b-offset" inputmode="numeric" size="10"></div>
      <div><label for="b-key">Key contains</label><input id="b-key" type="search"></div>
      <div><label for="b-limit">At most</label><select id="b-limit"><option>20</option><option selected>50</option><option>200</option><option>500</option></select></div>
      <div><button class="primary" type="submit">Read messages</button></div>
    </form>
    <p id="b-count" class="muted" aria-live="polite"></p>
    <table id="messages"><caption class="sr-only">Messages</caption>
      <colgroup><col class="w-num"><col class="w-num"><col class="w-time"><col class="w-key"><col><col class="w-headers"></colgroup>
      <thead><tr><th scope="col" class="num">Partition</th><th scope="col" class="num">Offset</th>
      <th scope="col">Timestamp</th><th scope="col">Key</th><th scope="col">Value</th><th scope="col">Headers</th></tr></thead><tbody></tbody></table>`;
  const read = async () => {
    clearError();
    const q = new URLSearchParams();
    for (const [id, key] of [['b-partition', 'partition'], ['b-offset', 'offset'], ['b-key', 'key'], ['b-limit', 'limit']]) {
      const v = document.getElementById(id).value.trim();
      if (v) q.set(key, v);
    }
    document.getElementById('b-count').textContent = 'Reading…';
    const r = await api('GET', `/ui/api/topics/${enc(topic)}/messages?${q}`);
    document.getElementById('b-count').textContent = `${r.messages.length} messages${q.get('offset') ? ` from offset ${q.get('offset')}` : ', newest first'}.`;
    main.querySelector('#messages tbody').innerHTML = r.messages.map((m) => `<tr>
      <td class="num">${m.partition}</td><td class="num">${m.offset}</td>
      <td>${m.timestamp ? esc(new Date(m.timestamp).toISOString()) : '–'}</td>
      <td class="mono" title="${esc(m.key)}">${m.key === null ? '<span class="muted">null</span>' : esc(gist(m.key))}${m.key_base64 ? ' <span class="muted">(base64)</span>' : ''}</td>
      <td>${m.value === null ? '<span class="muted">null (tombstone)</span>' : `<details><summary class="mono">${esc(m.value_base64 ? m.value.slice(0, 120) : gist(m.value))}</summary><pre tabindex="0">${esc(m.value_base64 ? m.value : pretty(m.value))}</pre></details>`}</td>
      <td class="mono">${m.headers.map((h) => `${esc(h.key)}=${esc(h.value)}`).join('<br>')}</td></tr>`).join('')
      || '<tr><td colspan="6">No message.</td></tr>';
  };
  document.getElementById('browse').addEventListener('submit', (e) => { e.preventDefault(); read().catch(showError); });
  await read();
  return undefined;
}

// ---------- routing

const ROUTES = [
  [/^#?\/?$/, overviewPage],
  [/^#\/connectors\/([^/]+)\/edit$/, (n) => editorPage(n)],
  [/^#\/connectors\/([^/]+)$/, connectorPage],
  [/^#\/new$/, () => editorPage(undefined)],
  [/^#\/databases$/, databasesPage],
  [/^#\/topics$/, topicsPage],
  [/^#\/topics\/(.+)$/, topicPage],
];

async function route() {
  if (leave) { leave(); leave = null; }
  clearError();
  // A fresh <main> per page: listeners of the last page go with it.
  const fresh = main.cloneNode(false);
  main.replaceWith(fresh);
  main = fresh;
  const hash = location.hash || '#/';
  const found = ROUTES.find(([re]) => re.test(hash));
  try {
    if (!found) { setPage('Not found', ''); fresh.innerHTML = '<h1>Not found</h1><p><a href="#/">Connectors</a></p>'; return; }
    const args = hash.match(found[0]).slice(1).map(decodeURIComponent);
    const cleanup = await found[1](...args);
    if (typeof cleanup === 'function') leave = cleanup;
    focusHeading();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { loginPage(); return; }
    showError(e);
  }
}

window.addEventListener('hashchange', route);
// The skip link moves focus without touching the hash (the hash is the page).
document.querySelector('.skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
let firstOverview = api('GET', '/ui/api/overview');
firstOverview.then((d) => setWorker(d.worker)).catch(() => { firstOverview = null; });
route();
