// Switchyard's console: a small page over the same API a developer uses (/v1 and
// /_switchyard), with the browser's Basic credentials. No build step, no dependency.
'use strict';

const $ = (id) => document.getElementById(id);

/** An element with attributes (`on*` are listeners) and children (strings become text). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(path, options = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...options });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error((body && body.message) || `HTTP ${res.status}`);
  return body;
}

const post = (path, form) => api(path, {
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(form || {}).toString(),
});

function badge(text, colour) { return h('span', { class: `badge ${colour}` }, text); }

const STATUS_COLOURS = { pending: 'amber', reserved: 'blue', assigned: 'green', wrapping: 'grey',
  completed: 'grey', canceled: 'red', answered: 'green', failed: 'red' };
const statusBadge = (s) => badge(s, STATUS_COLOURS[s] || 'grey');

function age(fromMs, nowMs) {
  const s = Math.max(0, Math.round((nowMs - fromMs) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

const short = (sid) => sid ? `${sid.slice(0, 2)}…${sid.slice(-6)}` : '';

// ---------------------------------------------------------------- clock

async function renderClock(onChange) {
  const el = $('clock');
  try {
    const c = await api('/_switchyard/Clock');
    const parts = [h('span', {}, `${c.mode} clock · ${c.now}`)];
    if (c.mode === 'manual') {
      const secs = h('input', { type: 'number', min: '0', value: '10', 'aria-label': 'Seconds' });
      parts.push(secs, h('button', {
        id: 'advance',
        onclick: async () => { await post('/_switchyard/Clock', { Advance: secs.value }); renderClock(onChange); if (onChange) onChange(); },
      }, 'Advance'));
    }
    el.replaceChildren(...parts);
  } catch (e) {
    el.replaceChildren(h('span', { class: 'err' }, e.message));
  }
}

// ---------------------------------------------------------------- home

async function home() {
  $('crumbs').replaceChildren();
  const main = $('main');
  const list = await api('/v1/Workspaces?PageSize=100');
  const reset = h('button', {
    class: 'danger', id: 'reset',
    onclick: async () => {
      if (!confirm('Delete every workspace of this account?')) return;
      await post('/_switchyard/Reset');
      home();
    },
  }, 'Reset account');
  main.replaceChildren(
    h('div', { class: 'toolbar' }, h('h1', {}, 'Workspaces'), h('span', { class: 'spacer' }), reset),
    list.workspaces.length === 0
      ? h('p', { class: 'muted' }, 'No workspace yet: create one with the REST API or POST /_switchyard/Import.')
      : h('div', { class: 'cards' }, list.workspaces.map((w) => h('a', { class: 'card', href: `#/workspaces/${w.sid}` },
        h('div', { class: 'name' }, w.friendly_name),
        h('div', { class: 'mono muted' }, w.sid),
        h('div', { class: 'muted' }, `created ${w.date_created}`)))),
  );
  renderClock(home);
}

// ---------------------------------------------------------------- workspace

// The open workspace page: its SID, event source and timers. Every render checks it is still
// the page shown, so a late answer never paints over the next page.
let current = null;

function leave() {
  if (!current) return;
  if (current.events) current.events.close();
  clearInterval(current.poll);
  clearTimeout(current.timer);
  current = null;
}

async function workspace(ws) {
  const state = { ws, workersShown: 100, timer: null, events: null, poll: null };
  current = state;
  const w = await api(`/v1/Workspaces/${ws}`);
  if (current !== state) return;
  $('crumbs').replaceChildren('/ ', h('a', { href: `#/workspaces/${ws}` }, w.friendly_name));
  const queues = h('div', { class: 'body', id: 'queues' });
  const workers = h('div', { class: 'body', id: 'workers' });
  const feed = h('ul', { class: 'feed', id: 'events' });
  const callbacks = h('div', { class: 'body', id: 'callbacks' });
  $('main').replaceChildren(
    h('div', { class: 'toolbar' },
      h('h1', {}, w.friendly_name), h('span', { class: 'mono muted' }, ws),
      w.multi_task_enabled ? badge('multitasking', 'outline') : badge('single-tasking', 'outline')),
    h('div', { class: 'grid' },
      h('section', { class: 'panel' }, h('div', { class: 'head' }, h('h2', {}, 'Task queues')), queues),
      h('section', { class: 'panel' }, h('div', { class: 'head' }, h('h2', {}, 'Workers'), h('span', { class: 'spacer' }), h('span', { class: 'muted', id: 'workers-count' })), workers),
      h('div', {},
        h('section', { class: 'panel' }, h('div', { class: 'head' }, h('h2', {}, 'Callbacks')), callbacks),
        h('section', { class: 'panel stacked' }, h('div', { class: 'head' }, h('h2', {}, 'Live events'), h('span', { class: 'spacer' }), h('span', { class: 'muted', id: 'live' }, 'connecting…')), h('div', { class: 'body' }, feed)))),
  );

  const refresh = () => Promise.all([renderOverview(state), renderCallbacks(state)]).catch(showError);
  const soon = () => { clearTimeout(state.timer); state.timer = setTimeout(refresh, 150); };

  // Live: every event of the workspace is shown at once and refreshes the panels.
  const events = new EventSource(`/_switchyard/Workspaces/${ws}/Events/Stream`);
  state.events = events;
  events.onopen = () => { $('live').textContent = 'live'; };
  events.onerror = () => { const l = $('live'); if (l) l.textContent = 'reconnecting…'; };
  events.onmessage = (m) => {
    const e = JSON.parse(m.data);
    feed.prepend(h('li', { class: 'fresh' },
      h('div', {}, h('b', {}, e.event_type), ' ', h('span', { class: 'muted' }, e.date)),
      h('div', { class: 'muted' }, e.description)));
    while (feed.children.length > 100) feed.lastChild.remove();
    soon();
  };
  // Callback attempts are not events: the log is also read now and then.
  state.poll = setInterval(() => renderCallbacks(state).catch(() => {}), 3000);
  renderClock(refresh);
  await refresh();
}

async function renderOverview(state) {
  const o = await api(`/_switchyard/Workspaces/${state.ws}/Overview?Workers=${state.workersShown}`);
  if (current !== state) return;
  const queues = $('queues');
  const taskRows = (tasks) => h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Task'), h('th', {}, 'Priority'), h('th', {}, 'Age'), h('th', {}, 'Status'), h('th', {}))),
    h('tbody', {}, tasks.map((t) => h('tr', { 'data-task': t.task_sid },
      h('td', { class: 'mono', title: t.task_sid }, short(t.task_sid)),
      h('td', {}, t.priority),
      h('td', {}, age(t.date_created_ms, o.now_ms)),
      h('td', {}, statusBadge(t.status)),
      h('td', {}, h('button', { class: 'explain', onclick: () => explain(state.ws, t.task_sid) }, 'Explain'))))));
  const blocks = o.task_queues.map((q) => h('div', { class: 'queue', 'data-queue': q.task_queue_sid },
    h('div', { class: 'title' },
      h('b', {}, q.friendly_name), h('code', { class: 'muted' }, q.target_workers),
      h('span', { class: 'spacer' }),
      badge(`${q.tasks_total} waiting`, q.tasks_total ? 'amber' : 'outline'),
      badge(`${q.available_members}/${q.members} workers available`, q.available_members ? 'green' : 'grey')),
    q.tasks.length ? taskRows(q.tasks) : q.tasks_total ? null : h('div', { class: 'muted' }, 'No task waiting.'),
    q.tasks_total > q.tasks.length ? h('div', { class: 'muted' }, `… and ${q.tasks_total - q.tasks.length} more`) : null));
  if (o.unqueued_tasks.length) {
    blocks.push(h('div', { class: 'queue' }, h('div', { class: 'title' }, h('b', {}, 'In no queue'), h('span', { class: 'muted' }, 'routed to a worker, or no filter matched')), taskRows(o.unqueued_tasks)));
  }
  queues.replaceChildren(...(blocks.length ? blocks : [h('p', { class: 'muted' }, 'No task queue.')]));

  $('workers-count').textContent = `${o.workers_available} of ${o.workers_total} available`;
  const rows = o.workers.map((w) => h('tr', { 'data-worker': w.worker_sid },
    h('td', { title: w.worker_sid }, w.friendly_name),
    h('td', {}, badge(w.activity_name, w.available ? 'green' : 'grey')),
    h('td', {}, h('div', { class: 'chips' }, w.channels.filter((c) => c.capacity > 0 || c.pending + c.assigned + c.wrapping > 0).map((c) => {
      const load = c.pending + c.assigned + c.wrapping;
      const colour = !c.available ? 'grey' : load >= c.capacity ? 'red' : load > 0 ? 'blue' : 'outline';
      return badge(`${c.unique_name} ${load}/${c.capacity}`, colour);
    }))),
    h('td', {}, w.channels.reduce((n, c) => n + c.pending, 0) ? badge(`${w.channels.reduce((n, c) => n + c.pending, 0)} reserved`, 'blue') : '')));
  const more = o.workers_total > o.workers.length && state.workersShown < 5000
    ? h('button', { onclick: () => { state.workersShown = Math.min(state.workersShown + 200, 5000); renderOverview(state).catch(showError); } }, `Show more (${o.workers_total - o.workers.length} not shown)`)
    : null;
  $('workers').replaceChildren(
    o.workers_total === 0 ? h('p', { class: 'muted' }, 'No worker.') : h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Worker'), h('th', {}, 'Activity'), h('th', {}, 'Channels (load/capacity)'), h('th', {}))),
      h('tbody', {}, rows)),
    ...(more ? [more] : []));
}

async function renderCallbacks(state) {
  const list = await api(`/_switchyard/Workspaces/${state.ws}/Callbacks?PageSize=20`);
  if (current !== state) return;
  const el = $('callbacks');
  if (!list.callbacks.length) {
    el.replaceChildren(h('p', { class: 'muted' }, 'No callback sent yet.'));
    return;
  }
  const open = new Set([...el.querySelectorAll('tr.row-detail:not([hidden])')].map((r) => r.dataset.for));
  const rows = [];
  for (const c of list.callbacks) {
    const detail = h('tr', { class: 'row-detail', 'data-for': c.sid, hidden: !open.has(c.sid) },
      h('td', { colspan: '5' },
        h('div', { class: 'mono' }, `POST ${c.url}`),
        h('div', { class: 'mono muted' }, `X-Twilio-Signature: ${c.signature}`),
        h('pre', { class: 'mono' }, Object.entries(c.params).map(([k, v]) => `${k}=${v}`).join('\n')),
        c.error ? h('div', { class: 'err' }, c.error) : null,
        c.response_body ? h('pre', { class: 'mono' }, `answer: ${c.response_body}${c.response_body_truncated ? '…' : ''}`) : null));
    rows.push(h('tr', { class: 'callback', 'data-sid': c.sid, onclick: (ev) => { if (ev.target.tagName !== 'BUTTON') detail.hidden = !detail.hidden; } },
      h('td', {}, c.kind.replace('_', ' '), c.replay_of ? h('span', { class: 'muted' }, ' (replay)') : null),
      h('td', {}, statusBadge(c.outcome), ' ', c.response_status ? h('span', { class: 'muted' }, c.response_status) : null),
      h('td', { class: 'muted' }, c.event_type || short(c.reservation_sid)),
      h('td', { class: 'muted' }, `${Math.round(c.latency_ms)} ms`),
      h('td', {}, h('button', { class: 'replay', onclick: async () => { await post(`/_switchyard/Workspaces/${state.ws}/Callbacks/${c.sid}/Replay`); renderCallbacks(state); } }, 'Replay'))), detail);
  }
  el.replaceChildren(h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Callback'), h('th', {}, 'Outcome'), h('th', {}, 'For'), h('th', {}, 'Latency'), h('th', {}))),
    h('tbody', {}, rows)));
}

// ---------------------------------------------------------------- explain

async function explain(ws, task) {
  const body = $('modal-body');
  body.replaceChildren(h('p', { class: 'muted' }, 'Explaining…'));
  $('modal').classList.remove('hidden');
  try {
    const e = await api(`/_switchyard/Workspaces/${ws}/Tasks/${task}/Explain`);
    const r = e.routing;
    const parts = [
      h('h1', {}, 'Why this task is where it is'),
      h('div', { class: 'mono muted' }, `${e.task_sid} · ${e.assignment_status} · priority ${e.priority}`),
      h('div', { class: 'summary', id: 'explain-summary' }, e.summary),
      h('pre', { class: 'mono muted' }, JSON.stringify(e.attributes)),
    ];
    if (r && r.filters.length) {
      parts.push(h('h2', {}, 'Workflow filters'), h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Filter'), h('th', {}, 'Expression'), h('th', {}, 'Matches now'))),
        h('tbody', {}, r.filters.map((f) => h('tr', {},
          h('td', {}, f.index), h('td', {}, f.filter_friendly_name || '', f.current ? ' ' : '', f.current ? badge('current', 'blue') : ''),
          h('td', {}, h('code', {}, f.expression), f.unmet.map((u) => h('div', { class: 'muted' }, `✗ ${u.comparison} (${JSON.stringify(u.values)})`))),
          h('td', {}, f.matched ? badge('yes', 'green') : badge('no', 'grey')))))));
    }
    if (r && r.step) {
      parts.push(h('p', {}, 'On ', r.step.default_filter ? 'the default filter' : `filter ${r.step.filter_index}, step ${r.step.step_index}`,
        ' → queue ', h('b', {}, r.task_queue_friendly_name || r.step.task_queue_sid),
        r.step.expression ? [' with ', h('code', {}, r.step.expression)] : null,
        r.step.timeout_date ? `, until ${r.step.timeout_date}` : ''));
    }
    if (r) {
      parts.push(h('h2', {}, `Workers (${r.eligible_workers} may take it now)`), h('table', { id: 'explain-workers' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Worker'), h('th', {}, 'Eligible'), h('th', {}, 'Why not'))),
        h('tbody', {}, r.workers.map((w) => h('tr', {},
          h('td', { title: w.worker_sid }, w.friendly_name),
          h('td', {}, w.eligible ? badge('yes', 'green') : badge('no', 'red')),
          h('td', {}, w.reasons.map((x) => h('div', { class: 'reason' }, badge(x.reason.replaceAll('_', ' '), 'outline'), ' ', x.message))))))));
    }
    if (e.history.length) {
      parts.push(h('h2', {}, 'Earlier reservations'), h('ul', {}, e.history.map((p) => h('li', {}, `${p.date} ${p.outcome} by ${p.worker_sid}${p.reason ? `: ${p.reason}` : ''}`))));
    }
    body.replaceChildren(...parts);
  } catch (err) {
    body.replaceChildren(h('p', { class: 'err' }, err.message));
  }
}

function closeModal() { $('modal').classList.add('hidden'); }
$('modal-close').addEventListener('click', closeModal);
$('modal').addEventListener('click', (e) => { if (e.target === $('modal')) closeModal(); });
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') closeModal(); });

// ---------------------------------------------------------------- routing

function showError(e) {
  $('main').replaceChildren(h('p', { class: 'err' }, e.message));
}

function route() {
  leave();
  closeModal();
  const m = location.hash.match(/^#\/workspaces\/(WS[0-9a-fA-F]{32})/);
  (m ? workspace(m[1]) : home()).catch(showError);
}

window.addEventListener('hashchange', route);
route();
