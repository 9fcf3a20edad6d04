// Routing: tasks, reservations and assignment callbacks, driven end to end with the
// official SDK and a real callback HTTP server in this process (../callback-server.mjs).
//
// Expected behaviour comes from the OpenAPI description (twilio_taskrouter_v1.json) and
// taskrouter-api.md: §2.8 tasks, §2.9 reservations, §5.1/5.2 lifecycles, §5.3/5.4 assignment
// callbacks, §6 matching. Workspaces created through the API are multitasking by default
// (see workspaces.test.mjs), so a worker's `default` channel (capacity 1) is what limits it
// to one task at a time here.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import twilio from 'twilio';
import {
  useServer, uniq, sidPattern, expectRestError, assertWireDate, assertRecentDate, newWorkspace,
} from '../harness.mjs';
import { startCallbackServer, pollUntil, json, status } from '../callback-server.mjs';

const ctx = useServer();
let cb;
before(async () => {
  cb = await startCallbackServer();
});
after(async () => {
  await cb?.close();
});

// Spec schema fields (components.schemas) of the two new resources.
const TASK_FIELDS = ['account_sid', 'addons', 'age', 'assignment_status', 'attributes', 'date_created', 'date_updated', 'ignore_capacity', 'links', 'priority', 'reason', 'routing_target', 'sid', 'task_channel_sid', 'task_channel_unique_name', 'task_queue_entered_date', 'task_queue_friendly_name', 'task_queue_sid', 'timeout', 'url', 'virtual_start_time', 'workflow_friendly_name', 'workflow_sid', 'workspace_sid'];
const RESERVATION_FIELDS = ['account_sid', 'date_created', 'date_updated', 'links', 'reservation_status', 'sid', 'task_sid', 'url', 'worker_name', 'worker_sid', 'workspace_sid'];

// Assignment-callback form fields: the 12 documented ones (§5.3) plus the extra ones the
// server promises (WorkerName, TaskChannelSid, TaskChannelUniqueName, TaskQueueName,
// WorkflowName, TaskAssignmentStatus).
const CALLBACK_FIELDS = ['AccountSid', 'ReservationSid', 'TaskAge', 'TaskAssignmentStatus', 'TaskAttributes', 'TaskChannelSid', 'TaskChannelUniqueName', 'TaskPriority', 'TaskQueueName', 'TaskQueueSid', 'TaskSid', 'Timestamp', 'WorkerAttributes', 'WorkerName', 'WorkerSid', 'WorkflowName', 'WorkflowSid', 'WorkspaceSid'];

const sids = (list) => list.map((x) => x.sid);
const sorted = (a) => [...a].sort();

function routingConfig(filters, defaultQueue) {
  return JSON.stringify({ task_routing: { filters, default_filter: { queue: defaultQueue } } });
}

/** Wait for the assignment callback of one task (optionally on one path / not for given reservations). */
function callbackFor(taskSid, { path, notReservation = [], timeoutMs = 5000 } = {}) {
  return cb.waitFor(
    (r) => r.params.TaskSid === taskSid && (!path || r.path === path) && !notReservation.includes(r.params.ReservationSid),
    { timeoutMs, what: `an assignment callback for ${taskSid}${path ? ` on ${path}` : ''}` },
  );
}

/** The request is a form POST signed exactly as Twilio signs webhooks, for `url`. */
function assertSignedFormPost(req, url) {
  assert.equal(req.method, 'POST');
  assert.match(req.headers['content-type'] ?? '', /^application\/x-www-form-urlencoded\b/, 'callbacks are form-encoded');
  assert.equal(req.url, url, 'the callback is sent to the configured URL, query string included');
  const sig = req.headers['x-twilio-signature'];
  assert.ok(sig, 'X-Twilio-Signature header is present');
  assert.equal(twilio.validateRequest(ctx.authToken, sig, url, req.params), true,
    `X-Twilio-Signature ${sig} must validate with twilio.validateRequest(authToken, sig, ${url}, params)`);
  // Negative controls: the check is not vacuous.
  assert.equal(twilio.validateRequest(ctx.authToken + 'x', sig, url, req.params), false, 'wrong token must not validate');
  assert.equal(twilio.validateRequest(ctx.authToken, sig, url, { ...req.params, TaskPriority: '999' }), false, 'tampered params must not validate');
}

/** Assignment callback fields, checked value by value. */
function assertCallbackParams(req, exp) {
  const p = req.params;
  assert.deepEqual(sorted(req.formKeys), CALLBACK_FIELDS, 'callback carries exactly the promised form fields, each once');
  assert.equal(p.AccountSid, ctx.accountSid);
  assert.equal(p.WorkspaceSid, exp.ws);
  assert.equal(p.WorkflowSid, exp.workflow.sid);
  assert.equal(p.WorkflowName, exp.workflow.friendlyName);
  assert.equal(p.TaskQueueSid, exp.queue.sid);
  assert.equal(p.TaskQueueName, exp.queue.friendlyName);
  assert.equal(p.WorkerSid, exp.worker.sid);
  assert.equal(p.WorkerName, exp.worker.friendlyName);
  assert.deepEqual(JSON.parse(p.WorkerAttributes), exp.workerAttrs);
  assert.equal(p.TaskSid, exp.task.sid);
  assert.deepEqual(JSON.parse(p.TaskAttributes), exp.taskAttrs);
  assert.equal(p.TaskPriority, String(exp.priority ?? 0));
  assert.equal(p.TaskAssignmentStatus, 'reserved', 'the task is reserved while its reservation is offered');
  assert.equal(p.TaskChannelUniqueName, 'default');
  if (exp.channel) assert.equal(p.TaskChannelSid, exp.channel.sid);
  assert.match(p.ReservationSid, sidPattern('WR'));
  assert.match(p.TaskAge, /^\d+$/, 'TaskAge is whole seconds');
  assert.ok(Number(p.TaskAge) <= (exp.maxAge ?? 10), `TaskAge ${p.TaskAge} should be small`);
  // Timestamp: format undocumented (§5.3 (!)): accept epoch seconds or an ISO 8601 date, close to now.
  const ts = /^\d+$/.test(p.Timestamp) ? Number(p.Timestamp) * 1000 : Date.parse(p.Timestamp);
  assert.ok(Number.isFinite(ts) && Math.abs(Date.now() - ts) < 60_000, `Timestamp ${JSON.stringify(p.Timestamp)} should be the time of assignment`);
}

function assertReservation(r, { ws, task, worker, status: st, view }) {
  const { baseUrl, accountSid } = ctx;
  const w = `${baseUrl}/v1/Workspaces/${ws}`;
  assert.match(r.sid, sidPattern('WR'));
  assert.equal(r.accountSid, accountSid);
  assert.equal(r.workspaceSid, ws);
  assert.equal(r.taskSid, task.sid);
  assert.equal(r.workerSid, worker.sid);
  assert.equal(r.workerName, worker.friendlyName);
  if (st) assert.equal(r.reservationStatus, st, `reservation ${r.sid} status`);
  const parent = view === 'worker' ? `Workers/${worker.sid}` : `Tasks/${task.sid}`;
  assert.equal(r.url, `${w}/${parent}/Reservations/${r.sid}`);
  assert.deepEqual(r.links, { task: `${w}/Tasks/${task.sid}`, worker: `${w}/Workers/${worker.sid}`, workspace: w });
  assertRecentDate(r.dateCreated, 'reservation date_created');
  assertRecentDate(r.dateUpdated, 'reservation date_updated');
}

async function defaultChannel(tr, workerSid) {
  const channels = await tr.workers(workerSid).workerChannels.list();
  return channels.find((c) => c.taskChannelUniqueName === 'default');
}

async function noCallbackFor(taskSid, ms = 300) {
  await sleep(ms);
  const got = cb.requests.filter((r) => r.params.TaskSid === taskSid);
  assert.deepEqual(got.map((r) => `${r.path} → ${r.params.WorkerSid}`), [], `no assignment callback expected for ${taskSid}`);
}

// ------------------------------------------------------------------ walk-throughs

test('photo-captioning walk-through: signed callback answered "accept", Busy/Idle, complete, next task', async () => {
  const { client, baseUrl } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const idle = await tr.activities.create({ friendlyName: 'Idle', available: true });
  const busy = await tr.activities.create({ friendlyName: 'Busy', available: false });
  assert.equal(idle.available, true);
  assert.equal(busy.available, false);
  const wsu = await client.taskrouter.v1.workspaces(ws.sid).update({ defaultActivitySid: idle.sid });
  assert.equal(wsu.defaultActivitySid, idle.sid);
  assert.equal(wsu.defaultActivityName, 'Idle');

  const queue = await tr.taskQueues.create({ friendlyName: 'Caption Queue', targetWorkers: 'skill == "caption"' });
  const fallbackQueue = await tr.taskQueues.create({ friendlyName: 'Everything Else' });
  const p = cb.path('caption');
  const assignPath = `${p}/assign`;
  const assignUrl = cb.url(`${assignPath}?app=captions&v=1`);
  cb.on(assignPath, json({ instruction: 'accept' }));
  const wf = await tr.workflows.create({
    friendlyName: 'Caption Workflow',
    assignmentCallbackUrl: assignUrl,
    configuration: routingConfig([
      { filter_friendly_name: 'Captions', expression: 'required_skill = "caption"', targets: [{ queue: queue.sid }] },
    ], fallbackQueue.sid),
  });
  assert.equal(wf.assignmentCallbackUrl, assignUrl);
  const channel = await tr.taskChannels('default').fetch();

  const workerAttrs = { phone_number: '+15555550100', skill: 'caption' };
  const worker = await tr.workers.create({ friendlyName: 'Photo Captioner', attributes: JSON.stringify(workerAttrs) });
  assert.equal(worker.activitySid, idle.sid, 'a new worker starts in the workspace default activity');
  assert.equal(worker.activityName, 'Idle');
  assert.equal(worker.available, true);

  // Task 1: 201, answered as created (pending), then routed and accepted by the callback.
  const taskAttrs = { image_url: 'https://example.com/photos/cat.jpg', required_skill: 'caption' };
  const { statusCode, body: t1, headers } = await tr.tasks.createWithHttpInfo({ attributes: JSON.stringify(taskAttrs), workflowSid: wf.sid });
  const raw = client.httpClient.last.body;
  assert.equal(statusCode, 201);
  assert.ok(headers.etag !== undefined && headers.etag !== '', 'task create carries an ETag header (spec)');
  assert.deepEqual(Object.keys(raw).sort(), TASK_FIELDS, 'task JSON has exactly the spec schema fields');
  assert.match(t1.sid, sidPattern('WT'));
  assert.equal(t1.accountSid, ctx.accountSid);
  assert.equal(t1.workspaceSid, ws.sid);
  assert.equal(t1.assignmentStatus, 'pending');
  assert.equal(typeof t1.attributes, 'string', 'attributes is a JSON string');
  assert.deepEqual(JSON.parse(t1.attributes), taskAttrs);
  assert.equal(t1.workflowSid, wf.sid);
  assert.equal(t1.workflowFriendlyName, 'Caption Workflow');
  assert.equal(t1.priority, 0, 'priority defaults to 0');
  assert.equal(t1.timeout, 86400, 'Timeout defaults to 86,400 s');
  assert.equal(t1.taskChannelSid, channel.sid);
  assert.equal(t1.taskChannelUniqueName, 'default');
  assert.equal(t1.reason, null);
  assert.equal(t1.addons, '{}');
  assert.ok(t1.age >= 0 && t1.age <= 5, `age ${t1.age}`);
  assert.equal(t1.url, `${baseUrl}/v1/Workspaces/${ws.sid}/Tasks/${t1.sid}`);
  assert.equal(t1.links.workflow, `${baseUrl}/v1/Workspaces/${ws.sid}/Workflows/${wf.sid}`);
  assert.equal(t1.links.workspace, `${baseUrl}/v1/Workspaces/${ws.sid}`);
  assert.equal(t1.links.reservations, `${baseUrl}/v1/Workspaces/${ws.sid}/Tasks/${t1.sid}/Reservations`);
  for (const f of ['date_created', 'date_updated', 'virtual_start_time']) assertWireDate(raw[f], f);
  assert.equal(raw.virtual_start_time, raw.date_created, 'virtual_start_time defaults to date_created');

  const req1 = await callbackFor(t1.sid, { path: assignPath });
  assertSignedFormPost(req1, assignUrl);
  assertCallbackParams(req1, { ws: ws.sid, workflow: wf, queue, worker, workerAttrs, task: t1, taskAttrs, channel });
  const r1sid = req1.params.ReservationSid;

  const assigned = await pollUntil(() => tr.tasks(t1.sid).fetch(), (t) => t.assignmentStatus === 'assigned', { what: 'task 1 assigned' });
  assert.equal(assigned.taskQueueSid, queue.sid, 'the filter routed the task into Caption Queue');
  assert.equal(assigned.taskQueueFriendlyName, 'Caption Queue');
  assert.equal(assigned.links.task_queue, `${baseUrl}/v1/Workspaces/${ws.sid}/TaskQueues/${queue.sid}`);
  assertRecentDate(assigned.taskQueueEnteredDate, 'task_queue_entered_date');
  const r1list = await tr.tasks(t1.sid).reservations.list();
  assert.equal(client.httpClient.last.body.meta.key, 'reservations');
  assert.deepEqual(Object.keys(client.httpClient.last.body.reservations[0]).sort(), RESERVATION_FIELDS, 'reservation JSON has exactly the spec schema fields');
  assert.deepEqual(sids(r1list), [r1sid]);
  assertReservation(r1list[0], { ws: ws.sid, task: t1, worker, status: 'accepted', view: 'task' });
  const r1w = await tr.workers(worker.sid).reservations(r1sid).fetch();
  assertReservation(r1w, { ws: ws.sid, task: t1, worker, status: 'accepted', view: 'worker' });

  // The worker takes a break: a second task waits in the queue.
  const brk = await tr.workers(worker.sid).update({ activitySid: busy.sid });
  assert.equal(brk.activityName, 'Busy');
  assert.equal(brk.available, false);
  const t2 = await tr.tasks.create({ attributes: JSON.stringify({ image_url: 'https://example.com/photos/dog.jpg', required_skill: 'caption' }), workflowSid: wf.sid });
  assert.equal(t2.assignmentStatus, 'pending');
  await noCallbackFor(t2.sid);
  const waiting = await tr.tasks(t2.sid).fetch();
  assert.equal(waiting.assignmentStatus, 'pending');
  assert.equal(waiting.taskQueueSid, queue.sid);
  assert.deepEqual(await tr.tasks(t2.sid).reservations.list(), []);

  // Task 1 is done.
  const done = await tr.tasks(t1.sid).update({ assignmentStatus: 'completed', reason: 'caption written' });
  assert.equal(done.assignmentStatus, 'completed');
  assert.equal(done.reason, 'caption written');
  const doneFetched = await tr.tasks(t1.sid).fetch();
  assert.equal(doneFetched.assignmentStatus, 'completed');
  assert.equal(doneFetched.reason, 'caption written');
  // §2.9 / §5.2: the reservation follows the task to `completed`.
  assert.equal((await tr.tasks(t1.sid).reservations(r1sid).fetch()).reservationStatus, 'completed');
  assert.equal((await tr.tasks(t2.sid).fetch()).assignmentStatus, 'pending', 'still Busy: task 2 keeps waiting');

  // Back to Idle: task 2 is offered to the worker and accepted by the callback.
  await tr.workers(worker.sid).update({ activitySid: idle.sid });
  const req2 = await callbackFor(t2.sid, { path: assignPath });
  assertSignedFormPost(req2, assignUrl);
  assertCallbackParams(req2, { ws: ws.sid, workflow: wf, queue, worker, workerAttrs, task: t2, taskAttrs: JSON.parse(t2.attributes), channel });
  assert.notEqual(req2.params.ReservationSid, r1sid);
  const assigned2 = await pollUntil(() => tr.tasks(t2.sid).fetch(), (t) => t.assignmentStatus === 'assigned', { what: 'task 2 assigned' });
  assert.equal(assigned2.taskQueueSid, queue.sid);
  const mine = await tr.workers(worker.sid).reservations.list();
  assert.deepEqual(sorted(sids(mine)), sorted([r1sid, req2.params.ReservationSid]), "the worker's reservation history holds both");
  for (const r of mine) assertReservation(r, { ws: ws.sid, task: r.taskSid === t1.sid ? t1 : t2, worker, view: 'worker' });
  assert.equal(cb.received(assignPath).length, 2, 'exactly one callback per reservation');
});

test('quickstart walk-through: language queues, Offline worker skipped, callback "{}" leaves it pending, accept over REST', async () => {
  const { client } = ctx;
  const { ws, act, tr } = await newWorkspace(client);
  const aliceAttrs = { languages: ['en', 'es'] };
  const bobAttrs = { languages: ['en'] };
  const alice = await tr.workers.create({ friendlyName: 'Alice', activitySid: act.Offline.sid, attributes: JSON.stringify(aliceAttrs) });
  const bob = await tr.workers.create({ friendlyName: 'Bob', activitySid: act.Available.sid, attributes: JSON.stringify(bobAttrs) });
  const spanish = await tr.taskQueues.create({ friendlyName: 'Spanish', targetWorkers: 'languages HAS "es"' });
  const english = await tr.taskQueues.create({ friendlyName: 'English', targetWorkers: 'languages HAS "en"' });
  const assignPath = `${cb.path('quickstart')}/assignment`;
  const assignUrl = cb.url(assignPath);
  cb.on(assignPath, json({}));
  const wf = await tr.workflows.create({
    friendlyName: 'Sales',
    assignmentCallbackUrl: assignUrl,
    configuration: routingConfig([
      { filter_friendly_name: 'Language - Spanish', expression: "selected_language=='es'", targets: [{ queue: spanish.sid }] },
      { filter_friendly_name: 'Language - English', expression: "selected_language=='en'", targets: [{ queue: english.sid }] },
    ], english.sid),
  });

  // WorkflowSid omitted: the workspace has exactly one workflow.
  const t = await tr.tasks.create({ attributes: JSON.stringify({ selected_language: 'es' }) });
  assert.equal(t.workflowSid, wf.sid, 'the only workflow is used when WorkflowSid is omitted');
  assert.equal(t.workflowFriendlyName, 'Sales');
  await noCallbackFor(t.sid);
  const waiting = await tr.tasks(t.sid).fetch();
  assert.equal(waiting.assignmentStatus, 'pending', 'Alice is Offline; Bob is idle but does not speak Spanish');
  assert.equal(waiting.taskQueueSid, spanish.sid);
  assert.equal(waiting.taskQueueFriendlyName, 'Spanish');
  assert.deepEqual(await tr.tasks(t.sid).reservations.list(), []);
  assert.deepEqual(await tr.workers(bob.sid).reservations.list(), []);

  // Alice comes online.
  await tr.workers(alice.sid).update({ activitySid: act.Available.sid });
  const req = await callbackFor(t.sid, { path: assignPath });
  assertSignedFormPost(req, assignUrl);
  assertCallbackParams(req, { ws: ws.sid, workflow: wf, queue: spanish, worker: alice, workerAttrs: aliceAttrs, task: t, taskAttrs: { selected_language: 'es' } });
  const rid = req.params.ReservationSid;
  await sleep(100); // "{}" must not change anything
  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'reserved');

  const byTask = await tr.tasks(t.sid).reservations.list();
  assert.deepEqual(sids(byTask), [rid]);
  assertReservation(byTask[0], { ws: ws.sid, task: t, worker: alice, status: 'pending', view: 'task' });
  const byAlice = await tr.workers(alice.sid).reservations.list();
  assert.deepEqual(sids(byAlice), [rid]);
  assertReservation(byAlice[0], { ws: ws.sid, task: t, worker: alice, status: 'pending', view: 'worker' });
  assert.deepEqual(sids(await tr.tasks(t.sid).reservations.list({ reservationStatus: 'pending' })), [rid]);
  assert.deepEqual(sids(await tr.tasks(t.sid).reservations.list({ reservationStatus: 'accepted' })), []);
  assert.deepEqual(sids(await tr.tasks(t.sid).reservations.list({ workerSid: alice.sid })), [rid]);
  assert.deepEqual(sids(await tr.tasks(t.sid).reservations.list({ workerSid: bob.sid })), []);
  assert.deepEqual(sids(await tr.workers(alice.sid).reservations.list({ reservationStatus: 'pending' })), [rid]);
  assert.deepEqual(sids(await tr.workers(alice.sid).reservations.list({ reservationStatus: 'accepted' })), []);
  assert.deepEqual(await tr.workers(bob.sid).reservations.list(), []);
  // A reservation is only reachable under its own task and its own worker.
  await expectRestError(tr.workers(bob.sid).reservations(rid).fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.workers(bob.sid).reservations(rid).update({ reservationStatus: 'accepted' }), { status: 404, code: 20404 });
  const pendingCh = await defaultChannel(tr, alice.sid);
  assert.equal(pendingCh.assignedTasks, 0, 'assigned_tasks counts accepted reservations only (§2.5)');

  // Accept over REST.
  const { statusCode, body: acc } = await tr.tasks(t.sid).reservations(rid).updateWithHttpInfo({ reservationStatus: 'accepted' });
  assert.equal(statusCode, 200);
  assertReservation(acc, { ws: ws.sid, task: t, worker: alice, status: 'accepted', view: 'task' });
  const assigned = await tr.tasks(t.sid).fetch();
  assert.equal(assigned.assignmentStatus, 'assigned', 'accepting over REST assigns the task at once');
  assert.equal(assigned.taskQueueSid, spanish.sid);
  assert.equal((await tr.workers(alice.sid).reservations(rid).fetch()).reservationStatus, 'accepted');

  const ch = await defaultChannel(tr, alice.sid);
  assert.equal(ch.assignedTasks, 1);
  assert.equal(ch.configuredCapacity, 1);
  assert.equal(ch.availableCapacityPercentage, 0);
  const voice = (await tr.workers(alice.sid).workerChannels.list()).find((c) => c.taskChannelUniqueName === 'voice');
  assert.equal(voice.assignedTasks, 0, 'other channels are untouched');
  const aliceNow = await tr.workers(alice.sid).fetch();
  assert.equal(aliceNow.activityName, 'Available', 'multitasking: reservations do not change the activity (§5.2)');

  // An English task: Alice's default channel is full, so it goes to Bob via the English filter.
  const t2 = await tr.tasks.create({ attributes: JSON.stringify({ selected_language: 'en' }), workflowSid: wf.sid });
  const req2 = await callbackFor(t2.sid, { path: assignPath });
  assertCallbackParams(req2, { ws: ws.sid, workflow: wf, queue: english, worker: bob, workerAttrs: bobAttrs, task: t2, taskAttrs: { selected_language: 'en' } });
  assert.equal((await tr.tasks(t2.sid).fetch()).assignmentStatus, 'reserved');
});

// ------------------------------------------------------------------ reservations

/** A workspace whose workflow parks every task in a queue that matches no worker. */
async function heldSetup(wfParams = {}) {
  const w = await newWorkspace(ctx.client);
  const nobody = await w.tr.taskQueues.create({ friendlyName: uniq('nobody'), targetWorkers: 'skill == "nobody"' });
  const wf = await w.tr.workflows.create({ friendlyName: uniq('wf'), configuration: routingConfig([], nobody.sid), ...wfParams });
  return { ...w, nobody, wf };
}

async function twoWorkerSetup({ maxReservedWorkers, answer = json({}), fallback } = {}) {
  const { client } = ctx;
  const w = await newWorkspace(client);
  const { act, tr } = w;
  const queue = await tr.taskQueues.create({ friendlyName: uniq('q'), ...(maxReservedWorkers ? { maxReservedWorkers } : {}) });
  const path = `${cb.path('r')}/assign`;
  cb.on(path, answer);
  const wf = await tr.workflows.create({
    friendlyName: uniq('wf'),
    assignmentCallbackUrl: cb.url(path),
    ...(fallback ? { fallbackAssignmentCallbackUrl: fallback } : {}),
    configuration: routingConfig([], queue.sid),
  });
  const w1 = await tr.workers.create({ friendlyName: uniq('w1'), activitySid: act.Available.sid, attributes: '{"n":1}' });
  const w2 = await tr.workers.create({ friendlyName: uniq('w2'), activitySid: act.Available.sid, attributes: '{"n":2}' });
  const workers = { [w1.sid]: w1, [w2.sid]: w2 };
  return { ...w, queue, wf, path, w1, w2, workers };
}

test('rejecting over REST (with WorkerActivitySid) offers the task to the next worker', async () => {
  const { ws, act, tr, path, workers } = await twoWorkerSetup();
  const t = await tr.tasks.create({ attributes: '{"type":"support"}' });
  const req1 = await callbackFor(t.sid, { path });
  const first = workers[req1.params.WorkerSid];
  const other = Object.values(workers).find((w) => w.sid !== first.sid);
  const r1 = req1.params.ReservationSid;
  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'reserved');

  const rej = await tr.tasks(t.sid).reservations(r1).update({ reservationStatus: 'rejected', workerActivitySid: act.Offline.sid });
  assertReservation(rej, { ws: ws.sid, task: t, worker: first, status: 'rejected', view: 'task' });
  const firstNow = await tr.workers(first.sid).fetch();
  assert.equal(firstNow.activitySid, act.Offline.sid, 'WorkerActivitySid moves the rejecting worker');
  assert.equal(firstNow.available, false);

  const req2 = await callbackFor(t.sid, { path, notReservation: [r1] });
  assert.equal(req2.params.WorkerSid, other.sid, 'the task goes to the next eligible worker');
  const r2 = req2.params.ReservationSid;
  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'reserved');
  const list = await tr.tasks(t.sid).reservations.list();
  assert.deepEqual(Object.fromEntries(list.map((r) => [r.sid, [r.workerSid, r.reservationStatus]])), {
    [r1]: [first.sid, 'rejected'],
    [r2]: [other.sid, 'pending'],
  });
  assert.deepEqual(sids(await tr.tasks(t.sid).reservations.list({ reservationStatus: 'rejected' })), [r1]);
  assert.deepEqual(sids(await tr.workers(first.sid).reservations.list({ reservationStatus: 'rejected' })), [r1]);

  // A reservation that is no longer pending cannot be updated.
  await expectRestError(tr.tasks(t.sid).reservations(r1).update({ reservationStatus: 'accepted' }), { status: 400 });
  await expectRestError(tr.workers(first.sid).reservations(r1).update({ reservationStatus: 'rejected' }), { status: 400 });

  // Accept r2 through the worker view.
  const acc = await tr.workers(other.sid).reservations(r2).update({ reservationStatus: 'accepted' });
  assertReservation(acc, { ws: ws.sid, task: t, worker: other, status: 'accepted', view: 'worker' });
  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'assigned');
});

test('callback answering {"instruction":"reject","activity_sid":…} rejects; the next worker\'s "accept" assigns', async () => {
  let n = 0;
  let rejectInto;
  const s = await twoWorkerSetup({
    answer: () => (n++ === 0 ? { status: 200, body: { instruction: 'reject', activity_sid: rejectInto } } : { status: 200, body: { instruction: 'accept' } }),
  });
  const { ws, act, tr, path, workers } = s;
  rejectInto = act.Unavailable.sid;
  const t = await tr.tasks.create({ attributes: '{"type":"support"}' });
  const req1 = await callbackFor(t.sid, { path });
  const first = workers[req1.params.WorkerSid];
  const other = Object.values(workers).find((w) => w.sid !== first.sid);
  const req2 = await callbackFor(t.sid, { path, notReservation: [req1.params.ReservationSid] });
  assert.equal(req2.params.WorkerSid, other.sid);
  const assigned = await pollUntil(() => tr.tasks(t.sid).fetch(), (x) => x.assignmentStatus === 'assigned', { what: 'task assigned' });
  assert.equal(assigned.assignmentStatus, 'assigned');
  const r1 = await tr.tasks(t.sid).reservations(req1.params.ReservationSid).fetch();
  assertReservation(r1, { ws: ws.sid, task: t, worker: first, status: 'rejected', view: 'task' });
  const r2 = await tr.tasks(t.sid).reservations(req2.params.ReservationSid).fetch();
  assertReservation(r2, { ws: ws.sid, task: t, worker: other, status: 'accepted', view: 'task' });
  const firstNow = await tr.workers(first.sid).fetch();
  assert.equal(firstNow.activitySid, act.Unavailable.sid, 'activity_sid of the reject instruction moves the worker');
  assert.equal(firstNow.activityName, 'Unavailable');
  assert.equal(cb.received(path).length, 2);
});

test('MaxReservedWorkers=2: two reservations, accepting one rescinds the other; accepting the rescinded one → 410', async () => {
  const { ws, tr, path, workers, queue } = await twoWorkerSetup({ maxReservedWorkers: 2 });
  assert.equal(queue.maxReservedWorkers, 2);
  const t = await tr.tasks.create({ attributes: '{"type":"sales"}' });
  const reqA = await callbackFor(t.sid, { path });
  const reqB = await callbackFor(t.sid, { path, notReservation: [reqA.params.ReservationSid] });
  assert.notEqual(reqA.params.WorkerSid, reqB.params.WorkerSid, 'one reservation per worker');
  assert.deepEqual(sorted([reqA.params.WorkerSid, reqB.params.WorkerSid]), sorted(Object.keys(workers)));
  const [rA, rB] = [reqA.params.ReservationSid, reqB.params.ReservationSid];
  const [wA, wB] = [workers[reqA.params.WorkerSid], workers[reqB.params.WorkerSid]];

  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'reserved');
  const pending = await tr.tasks(t.sid).reservations.list({ reservationStatus: 'pending' });
  assert.deepEqual(sorted(sids(pending)), sorted([rA, rB]));

  const acc = await tr.workers(wA.sid).reservations(rA).update({ reservationStatus: 'accepted' });
  assertReservation(acc, { ws: ws.sid, task: t, worker: wA, status: 'accepted', view: 'worker' });
  const resc = await tr.tasks(t.sid).reservations(rB).fetch();
  assertReservation(resc, { ws: ws.sid, task: t, worker: wB, status: 'rescinded', view: 'task' });
  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'assigned');
  assert.deepEqual(sids(await tr.workers(wB.sid).reservations.list({ reservationStatus: 'rescinded' })), [rB]);

  await expectRestError(tr.tasks(t.sid).reservations(rB).update({ reservationStatus: 'accepted' }), { status: 410 });
  await expectRestError(tr.workers(wB.sid).reservations(rB).update({ reservationStatus: 'accepted' }), { status: 410 });
  assert.equal((await tr.tasks(t.sid).reservations(rB).fetch()).reservationStatus, 'rescinded', 'unchanged by the failed accept');
  // The accepted one is no longer pending either.
  await expectRestError(tr.tasks(t.sid).reservations(rA).update({ reservationStatus: 'rejected' }), { status: 400 });
  assert.equal(cb.received(path).length, 2, 'one callback per reservation');
});

test('worker update with RejectPendingReservations=true (to an unavailable activity) rejects its pending reservation', async () => {
  const { ws, act, tr, path, workers } = await twoWorkerSetup();
  const t = await tr.tasks.create({ attributes: '{"type":"rpr"}' });
  const req = await callbackFor(t.sid, { path });
  const first = workers[req.params.WorkerSid];
  const other = Object.values(workers).find((w) => w.sid !== first.sid);
  const upd = await tr.workers(first.sid).update({ activitySid: act.Unavailable.sid, rejectPendingReservations: true });
  assert.equal(upd.activityName, 'Unavailable');
  const r = await tr.workers(first.sid).reservations(req.params.ReservationSid).fetch();
  assertReservation(r, { ws: ws.sid, task: t, worker: first, status: 'rejected', view: 'worker' });
  const req2 = await callbackFor(t.sid, { path, notReservation: [req.params.ReservationSid] });
  assert.equal(req2.params.WorkerSid, other.sid, 'the task moves on to the other worker');
});

test('Instruction=dequeue over REST accepts; a callback answering {"instruction":"conference"} accepts', async () => {
  const { ws, tr, path, workers } = await twoWorkerSetup();
  const t = await tr.tasks.create({ attributes: '{"type":"voice"}' });
  const req = await callbackFor(t.sid, { path });
  const worker = workers[req.params.WorkerSid];
  const r = await tr.tasks(t.sid).reservations(req.params.ReservationSid).update({
    instruction: 'dequeue', dequeueFrom: '+15555550199',
  });
  assertReservation(r, { ws: ws.sid, task: t, worker, status: 'accepted', view: 'task' });
  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'assigned');

  cb.on(path, json({ instruction: 'conference', from: '+15555550199' }));
  const t2 = await tr.tasks.create({ attributes: '{"type":"voice"}' });
  const req2 = await callbackFor(t2.sid, { path });
  const other = Object.values(workers).find((w) => w.sid !== worker.sid);
  assert.equal(req2.params.WorkerSid, other.sid, 'the first worker is at capacity');
  const assigned = await pollUntil(() => tr.tasks(t2.sid).fetch(), (x) => x.assignmentStatus === 'assigned', { what: 'task 2 assigned' });
  assert.equal(assigned.assignmentStatus, 'assigned');
  assert.equal((await tr.tasks(t2.sid).reservations(req2.params.ReservationSid).fetch()).reservationStatus, 'accepted');
});

// ------------------------------------------------------------------ task lifecycle

test('canceling a reserved task (with Reason) cancels its pending reservation and frees the worker', async () => {
  const { ws, tr, path, workers } = await twoWorkerSetup();
  const t = await tr.tasks.create({ attributes: '{"type":"chat"}' });
  const req = await callbackFor(t.sid, { path });
  const worker = workers[req.params.WorkerSid];
  const rid = req.params.ReservationSid;

  const canceled = await tr.tasks(t.sid).update({ assignmentStatus: 'canceled', reason: 'customer hung up' });
  assert.equal(canceled.assignmentStatus, 'canceled');
  assert.equal(canceled.reason, 'customer hung up');
  const f = await tr.tasks(t.sid).fetch();
  assert.equal(f.assignmentStatus, 'canceled');
  assert.equal(f.reason, 'customer hung up');
  const r = await tr.workers(worker.sid).reservations(rid).fetch();
  assertReservation(r, { ws: ws.sid, task: t, worker, status: 'canceled', view: 'worker' });
  await expectRestError(tr.tasks(t.sid).reservations(rid).update({ reservationStatus: 'accepted' }), { status: 400 });
  // Terminal: a canceled task cannot be reopened or completed.
  await expectRestError(tr.tasks(t.sid).update({ assignmentStatus: 'completed', reason: 'x' }), { status: 400 });
  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'canceled');

  // The worker is free again: two new tasks are both reserved, one per worker (capacity 1 each).
  const t2 = await tr.tasks.create({ attributes: '{"type":"chat","n":2}' });
  const t3 = await tr.tasks.create({ attributes: '{"type":"chat","n":3}' });
  const [c2, c3] = await Promise.all([callbackFor(t2.sid, { path }), callbackFor(t3.sid, { path })]);
  assert.deepEqual(sorted([c2.params.WorkerSid, c3.params.WorkerSid]), sorted(Object.keys(workers)));
  await sleep(200);
  assert.equal(cb.received(path).filter((r) => r.params.TaskSid === t.sid).length, 1, 'the canceled task is not offered again');
});

test('assignment status moves: assigned → wrapping → completed; an assigned task cannot be canceled', async () => {
  const { tr, path } = await twoWorkerSetup({ answer: json({ instruction: 'accept' }) });
  const t = await tr.tasks.create({ attributes: '{"type":"chat"}' });
  await callbackFor(t.sid, { path });
  await pollUntil(() => tr.tasks(t.sid).fetch(), (x) => x.assignmentStatus === 'assigned', { what: 'task assigned' });
  const rid = (await tr.tasks(t.sid).reservations.list())[0].sid;

  // §5.1: an assigned task never goes to canceled.
  await expectRestError(tr.tasks(t.sid).update({ assignmentStatus: 'canceled', reason: 'too late' }), { status: 400 });
  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'assigned', 'unchanged by the failed updates');

  const wrapping = await tr.tasks(t.sid).update({ assignmentStatus: 'wrapping' });
  assert.equal(wrapping.assignmentStatus, 'wrapping');
  assert.equal((await tr.tasks(t.sid).reservations(rid).fetch()).reservationStatus, 'wrapping', 'the reservation follows the task (§5.2)');
  const done = await tr.tasks(t.sid).update({ assignmentStatus: 'completed', reason: 'resolved' });
  assert.equal(done.assignmentStatus, 'completed');
  assert.equal(done.reason, 'resolved');
  assert.equal((await tr.tasks(t.sid).reservations(rid).fetch()).reservationStatus, 'completed');
});

test('Reason is required when a task is canceled or completed (OAS UpdateTask)', async () => {
  // Spec, UpdateTask `Reason`: "This parameter is required only if the Task is canceled or completed."
  const { tr, path } = await twoWorkerSetup({ answer: json({ instruction: 'accept' }) });
  const t = await tr.tasks.create({ attributes: '{"type":"chat"}' });
  await callbackFor(t.sid, { path });
  await pollUntil(() => tr.tasks(t.sid).fetch(), (x) => x.assignmentStatus === 'assigned', { what: 'task assigned' });
  await expectRestError(tr.tasks(t.sid).update({ assignmentStatus: 'completed' }), { status: 400 });
  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'assigned', 'unchanged by the failed update');


  const { tr: tr2, wf } = await heldSetup();
  const held = await tr2.tasks.create({ attributes: '{"kind":"held"}', workflowSid: wf.sid });
  await expectRestError(tr2.tasks(held.sid).update({ assignmentStatus: 'canceled' }), { status: 400 });
  assert.equal((await tr2.tasks(held.sid).fetch()).assignmentStatus, 'pending', 'unchanged by the failed update');
});

test('deleting a reserved task removes its pending reservation; the worker gets the next task', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const queue = await tr.taskQueues.create({ friendlyName: uniq('q') });
  await tr.workflows.create({ friendlyName: uniq('wf'), configuration: routingConfig([], queue.sid) }); // no callback: manual mode
  const w = await tr.workers.create({ friendlyName: uniq('w'), activitySid: act.Available.sid });
  const t1 = await tr.tasks.create({ attributes: '{"n":1}' });
  await pollUntil(() => tr.tasks(t1.sid).fetch(), (x) => x.assignmentStatus === 'reserved', { what: 'task 1 reserved' });
  const t2 = await tr.tasks.create({ attributes: '{"n":2}' });
  const [r1] = await tr.workers(w.sid).reservations.list();
  assert.equal(r1.taskSid, t1.sid);
  assert.equal(r1.reservationStatus, 'pending');

  const { statusCode } = await tr.tasks(t1.sid).removeWithHttpInfo();
  assert.equal(statusCode, 204);
  await expectRestError(tr.tasks(t1.sid).fetch(), { status: 404, code: 20404 });
  // "Deleting a Task also deletes its pending Reservations" [D:task]; §5.2 calls them canceled: accept either.
  let gone = null;
  try {
    gone = await tr.workers(w.sid).reservations(r1.sid).fetch();
  } catch (e) {
    assert.equal(e.status, 404, `expected 404 for the deleted task's reservation, got ${e.status}`);
  }
  if (gone) assert.equal(gone.reservationStatus, 'canceled');
  const next = await pollUntil(() => tr.tasks(t2.sid).fetch(), (x) => x.assignmentStatus === 'reserved', { what: 'task 2 reserved' });
  assert.equal(next.assignmentStatus, 'reserved');
  assert.deepEqual((await tr.tasks(t2.sid).reservations.list()).map((r) => r.workerSid), [w.sid]);
});

// ------------------------------------------------------------------ callback failures

test('failing primary callback (HTTP 500, or a non-JSON 200) → FallbackAssignmentCallbackUrl; an empty 200 does not fall back', async () => {
  for (const [label, primaryAnswer] of [['500', status(500, 'boom')], ['non-JSON 200', () => ({ status: 200, body: 'OK, thanks', contentType: 'text/plain' })]]) {
    const fbPath = `${cb.path('fb')}/fallback`;
    const fbUrl = cb.url(`${fbPath}?which=fallback`);
    cb.on(fbPath, json({ instruction: 'accept' }));
    const { ws, tr, path, workers, wf, queue } = await twoWorkerSetup({ answer: primaryAnswer, fallback: fbUrl });
    assert.equal(wf.fallbackAssignmentCallbackUrl, fbUrl);
    const t = await tr.tasks.create({ attributes: '{"type":"fb"}' });
    const primary = await callbackFor(t.sid, { path });
    const fb = await callbackFor(t.sid, { path: fbPath });
    assert.ok(fb.seq > primary.seq, `${label}: the fallback is called after the primary`);
    assert.deepEqual({ ...fb.params, Timestamp: null, TaskAge: null }, { ...primary.params, Timestamp: null, TaskAge: null }, `${label}: the fallback gets the same request`);
    assertSignedFormPost(primary, cb.url(path));
    assertSignedFormPost(fb, fbUrl);
    const worker = workers[fb.params.WorkerSid];
    assertCallbackParams(fb, { ws: ws.sid, workflow: wf, queue, worker, workerAttrs: JSON.parse(worker.attributes), task: t, taskAttrs: { type: 'fb' } });
    const assigned = await pollUntil(() => tr.tasks(t.sid).fetch(), (x) => x.assignmentStatus === 'assigned', { what: `${label}: task assigned by the fallback's accept` });
    assert.equal(assigned.assignmentStatus, 'assigned');
    assert.equal((await tr.tasks(t.sid).reservations(fb.params.ReservationSid).fetch()).reservationStatus, 'accepted');
    assert.equal(cb.received(path).length, 1, `${label}: the primary is called once`);
    assert.equal(cb.received(fbPath).length, 1, `${label}: the fallback is called once`);
  }

  // Empty 200 = "no instruction now": no fallback, the reservation stays pending.
  const fbPath = `${cb.path('fb')}/fallback`;
  cb.on(fbPath, json({ instruction: 'accept' }));
  const { tr, path } = await twoWorkerSetup({ answer: () => ({ status: 200, body: '' }), fallback: cb.url(fbPath) });
  const t = await tr.tasks.create({ attributes: '{"type":"empty"}' });
  const req = await callbackFor(t.sid, { path });
  await sleep(300);
  assert.equal(cb.received(fbPath).length, 0, 'an empty 200 is not a failure');
  assert.equal((await tr.tasks(t.sid).reservations(req.params.ReservationSid).fetch()).reservationStatus, 'pending');
  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'reserved');
});

test('primary and fallback both failing → the reservation is canceled (the task is not)', async () => {
  const fbPath = `${cb.path('fb')}/fallback`;
  let fbCalls = 0;
  // First fallback call fails; later ones (if the task is offered again) answer "{}" so nothing loops.
  cb.on(fbPath, () => (fbCalls++ === 0 ? { status: 503, body: 'down', contentType: 'text/plain' } : { status: 200, body: {} }));
  const { ws, tr, path, workers } = await twoWorkerSetup({ answer: status(500), fallback: cb.url(fbPath) });
  const t = await tr.tasks.create({ attributes: '{"type":"doomed"}' });
  const primary = await callbackFor(t.sid, { path });
  const rid = primary.params.ReservationSid;
  const fb = await cb.waitFor((r) => r.path === fbPath && r.params.ReservationSid === rid, { what: 'the fallback call' });
  assert.ok(fb.seq > primary.seq);
  const r = await pollUntil(() => tr.tasks(t.sid).reservations(rid).fetch(), (x) => x.reservationStatus !== 'pending', { what: 'reservation leaves pending' });
  assertReservation(r, { ws: ws.sid, task: t, worker: workers[primary.params.WorkerSid], status: 'canceled', view: 'task' });
  const task = await tr.tasks(t.sid).fetch();
  assert.ok(['pending', 'reserved'].includes(task.assignmentStatus), `the task itself stays routable, got ${task.assignmentStatus}`);
  assert.equal(task.reason, null);
});

// ------------------------------------------------------------------ more routing
test('a callback answer without Content-Type application/json counts as a failure (→ fallback)', async () => {
  // §5.4 [D:assigncb]: answer "within 5 seconds with HTTP 200 and Content-Type: application/json, otherwise
  // TaskRouter ignores the response and POSTs the same request to FallbackAssignmentCallbackUrl".
  const fbPath = `${cb.path('fb')}/fallback`;
  cb.on(fbPath, json({}));
  const { tr, path } = await twoWorkerSetup({
    answer: () => ({ status: 200, body: '{"instruction":"accept"}', contentType: 'text/plain' }),
    fallback: cb.url(fbPath),
  });
  const t = await tr.tasks.create({ attributes: '{"type":"ctype"}' });
  const req = await callbackFor(t.sid, { path });
  await sleep(300);
  assert.equal(cb.received(fbPath).length, 1, 'the fallback URL is called');
  assert.equal((await tr.tasks(t.sid).reservations(req.params.ReservationSid).fetch()).reservationStatus, 'pending',
    'the text/plain "accept" is ignored; the fallback\'s "{}" leaves the reservation pending');
});


test('ReservationStatus=wrapping / completed on an accepted reservation; not on a pending one', async () => {
  const { ws, tr, path, workers } = await twoWorkerSetup();
  const t = await tr.tasks.create({ attributes: '{"type":"flex"}' });
  const req = await callbackFor(t.sid, { path });
  const worker = workers[req.params.WorkerSid];
  const rid = req.params.ReservationSid;
  await expectRestError(tr.tasks(t.sid).reservations(rid).update({ reservationStatus: 'completed' }), { status: 400 });
  await expectRestError(tr.tasks(t.sid).reservations(rid).update({ reservationStatus: 'wrapping' }), { status: 400 });
  assert.equal((await tr.tasks(t.sid).reservations(rid).fetch()).reservationStatus, 'pending');
  await tr.tasks(t.sid).reservations(rid).update({ reservationStatus: 'accepted' });
  const wrap = await tr.workers(worker.sid).reservations(rid).update({ reservationStatus: 'wrapping' });
  assertReservation(wrap, { ws: ws.sid, task: t, worker, status: 'wrapping', view: 'worker' });
  const done = await tr.tasks(t.sid).reservations(rid).update({ reservationStatus: 'completed' });
  assertReservation(done, { ws: ws.sid, task: t, worker, status: 'completed', view: 'task' });
  assert.equal((await defaultChannel(tr, worker.sid)).assignedTasks, 0, 'a completed reservation no longer occupies the channel');
});

test('RoutingTarget: a worker SID reserves that worker even when Offline (IgnoreCapacity defaults to true); IgnoreCapacity=false waits; a queue SID routes into that queue', async () => {
  const { act, tr, nobody } = await heldSetup();
  const offline = await tr.workers.create({ friendlyName: uniq('known'), activitySid: act.Offline.sid, attributes: '{"skill":"x"}' });
  const t = await tr.tasks.create({ attributes: '{"callback_for":"known"}', routingTarget: offline.sid });
  assert.equal(t.routingTarget, offline.sid);
  assert.equal(t.ignoreCapacity, true, 'IgnoreCapacity defaults to true with a worker RoutingTarget');
  await pollUntil(() => tr.tasks(t.sid).fetch(), (x) => x.assignmentStatus === 'reserved', { what: 'task reserved for the targeted worker' });
  assert.deepEqual((await tr.tasks(t.sid).reservations.list()).map((r) => [r.workerSid, r.reservationStatus]), [[offline.sid, 'pending']]);

  const other = await tr.workers.create({ friendlyName: uniq('strict'), activitySid: act.Offline.sid });
  const t2 = await tr.tasks.create({ attributes: '{"n":2}', routingTarget: other.sid, ignoreCapacity: 'false' });
  assert.equal(t2.ignoreCapacity, false);
  await sleep(300);
  assert.equal((await tr.tasks(t2.sid).fetch()).assignmentStatus, 'pending', 'IgnoreCapacity=false respects availability');
  await tr.workers(other.sid).update({ activitySid: act.Available.sid });
  await pollUntil(() => tr.tasks(t2.sid).fetch(), (x) => x.assignmentStatus === 'reserved', { what: 'task 2 reserved once the worker is available' });
  assert.deepEqual((await tr.tasks(t2.sid).reservations.list()).map((r) => r.workerSid), [other.sid]);

  const open = await tr.taskQueues.create({ friendlyName: uniq('open'), targetWorkers: 'skill == "q"' });
  const qw = await tr.workers.create({ friendlyName: uniq('qw'), activitySid: act.Available.sid, attributes: '{"skill":"q"}' });
  const t3 = await tr.tasks.create({ attributes: '{"n":3}', routingTarget: open.sid });
  const r3 = await pollUntil(() => tr.tasks(t3.sid).fetch(), (x) => x.assignmentStatus === 'reserved', { what: 'task 3 reserved via its queue' });
  assert.equal(r3.taskQueueSid, open.sid);
  assert.notEqual(r3.taskQueueSid, nobody.sid);
  assert.deepEqual((await tr.tasks(t3.sid).reservations.list()).map((r) => r.workerSid), [qw.sid]);
});

test('updating a pending task\'s attributes re-runs it through the workflow (new queue, then reserved)', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const spanish = await tr.taskQueues.create({ friendlyName: 'Spanish', targetWorkers: 'languages HAS "es"' });
  const english = await tr.taskQueues.create({ friendlyName: 'English', targetWorkers: 'languages HAS "en"' });
  await tr.workflows.create({
    friendlyName: 'Lang',
    configuration: routingConfig([
      { expression: "selected_language=='es'", targets: [{ queue: spanish.sid }] },
      { expression: "selected_language=='en'", targets: [{ queue: english.sid }] },
    ], english.sid),
  });
  const bob = await tr.workers.create({ friendlyName: 'Bob', activitySid: act.Available.sid, attributes: '{"languages":["en"]}' });
  const t = await tr.tasks.create({ attributes: '{"selected_language":"es"}' });
  await sleep(200);
  const before1 = await tr.tasks(t.sid).fetch();
  assert.equal(before1.assignmentStatus, 'pending');
  assert.equal(before1.taskQueueSid, spanish.sid);
  const u = await tr.tasks(t.sid).update({ attributes: '{"selected_language":"en"}' });
  assert.deepEqual(JSON.parse(u.attributes), { selected_language: 'en' });
  const moved = await pollUntil(() => tr.tasks(t.sid).fetch(), (x) => x.assignmentStatus === 'reserved', { what: 'task re-routed and reserved' });
  assert.equal(moved.taskQueueSid, english.sid);
  assert.equal(moved.taskQueueFriendlyName, 'English');
  assert.deepEqual((await tr.tasks(t.sid).reservations.list()).map((r) => r.workerSid), [bob.sid]);
});

test('workflow target priority overrides the task priority; a step timeout escalates to the next step', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const nobody = await tr.taskQueues.create({ friendlyName: uniq('nobody'), targetWorkers: 'skill == "nobody"' });
  const real = await tr.taskQueues.create({ friendlyName: uniq('real'), targetWorkers: 'skill == "real"' });
  const wf = await tr.workflows.create({
    friendlyName: uniq('wf'),
    configuration: routingConfig([
      { filter_friendly_name: 'Escalate', expression: 'tier == "gold"', targets: [{ queue: nobody.sid, priority: 42, timeout: 1 }, { queue: real.sid, priority: '50' }] },
    ], nobody.sid),
  });
  const w = await tr.workers.create({ friendlyName: uniq('w'), activitySid: act.Available.sid, attributes: '{"skill":"real"}' });
  const t = await tr.tasks.create({ attributes: '{"tier":"gold"}', priority: 1, workflowSid: wf.sid });
  const first = await pollUntil(() => tr.tasks(t.sid).fetch(), (x) => x.taskQueueSid === nobody.sid, { what: 'task in step 1', timeoutMs: 900 });
  assert.equal(first.priority, 42, 'step 1 priority overrides Priority=1');
  assert.equal(first.assignmentStatus, 'pending');
  const escalated = await pollUntil(() => tr.tasks(t.sid).fetch(), (x) => x.assignmentStatus === 'reserved', { what: 'task escalated to step 2 and reserved' });
  assert.equal(escalated.taskQueueSid, real.sid);
  assert.equal(escalated.priority, 50, 'step 2 priority (given as a numeric string) applies');
  assert.deepEqual((await tr.tasks(t.sid).reservations.list()).map((r) => r.workerSid), [w.sid]);
});

test('task TTL (Timeout) expiry cancels a waiting task with reason "Task TTL Exceeded"', async () => {
  const { tr, wf } = await heldSetup();
  const t = await tr.tasks.create({ attributes: '{"kind":"held"}', workflowSid: wf.sid, timeout: 1 });
  assert.equal(t.timeout, 1);
  const gone = await pollUntil(() => tr.tasks(t.sid).fetch(), (x) => x.assignmentStatus !== 'pending', { what: 'task TTL expiry' });
  assert.equal(gone.assignmentStatus, 'canceled');
  assert.equal(gone.reason, 'Task TTL Exceeded');
});

test('TaskReservationTimeout: an unanswered reservation times out, the worker moves to the timeout activity, the task is offered to the next worker', async () => {
  const { client } = ctx;
  const { ws, act, tr } = await newWorkspace(client);
  assert.equal(ws.timeoutActivitySid, act.Offline.sid, 'workspace timeout activity defaults to Offline');
  const queue = await tr.taskQueues.create({ friendlyName: uniq('q') });
  const path = `${cb.path('rto')}/assign`;
  cb.on(path, json({}));
  const wf = await tr.workflows.create({ friendlyName: uniq('wf'), assignmentCallbackUrl: cb.url(path), taskReservationTimeout: 1, configuration: routingConfig([], queue.sid) });
  assert.equal(wf.taskReservationTimeout, 1);
  const w1 = await tr.workers.create({ friendlyName: uniq('w1'), activitySid: act.Available.sid });
  const w2 = await tr.workers.create({ friendlyName: uniq('w2'), activitySid: act.Available.sid });
  const t = await tr.tasks.create({ attributes: '{"type":"slow"}' });
  const req1 = await callbackFor(t.sid, { path });
  const first = req1.params.WorkerSid === w1.sid ? w1 : w2;
  const other = first === w1 ? w2 : w1;
  const r1 = await pollUntil(() => tr.tasks(t.sid).reservations(req1.params.ReservationSid).fetch(), (x) => x.reservationStatus !== 'pending', { what: 'reservation timeout' });
  assertReservation(r1, { ws: ws.sid, task: t, worker: first, status: 'timeout', view: 'task' });
  const firstNow = await tr.workers(first.sid).fetch();
  assert.equal(firstNow.activitySid, act.Offline.sid, 'the worker moves to the workspace timeout activity');
  const req2 = await callbackFor(t.sid, { path, notReservation: [req1.params.ReservationSid] });
  assert.equal(req2.params.WorkerSid, other.sid);
  assert.equal((await tr.tasks(t.sid).fetch()).assignmentStatus, 'reserved');
});

test('task create: defaults and validation (attributes, Priority, Timeout, VirtualStartTime, TaskChannel, WorkflowSid)', async () => {
  const { tr, wf } = await heldSetup();
  const ok = await tr.tasks.create({ attributes: '{"a":1}', priority: 2147483647, timeout: 1209600, taskChannel: 'voice' });
  assert.equal(ok.priority, 2147483647);
  assert.equal(ok.timeout, 1209600);
  assert.equal(ok.taskChannelUniqueName, 'voice');
  assert.equal(ok.workflowSid, wf.sid);
  const noAttrs = await tr.tasks.create({ workflowSid: wf.sid });
  assert.equal(noAttrs.attributes, '{}', 'Attributes defaults to {}');

  const bad = async (params, what) => {
    let err;
    try {
      await tr.tasks.create({ workflowSid: wf.sid, attributes: '{}', ...params });
    } catch (e) {
      err = e;
    }
    assert.ok(err, `${what}: expected an error`);
    assert.equal(err.status, 400, `${what}: expected 400, got ${err.status} ${err.message}`);
    assert.equal(err.code, 20001, `${what}: error code`);
    return err;
  };
  for (const a of ['[1,2]', '"s"', '{oops']) await bad({ attributes: a }, `Attributes ${a}`);
  await bad({ attributes: JSON.stringify({ pad: 'x'.repeat(4096) }) }, 'Attributes > 4096 characters');
  await bad({ priority: -1 }, 'Priority -1');
  await bad({ timeout: 1209601 }, 'Timeout above two weeks');
  await bad({ virtualStartTime: new Date(Date.now() + 3600_000) }, 'VirtualStartTime in the future');
  await bad({ virtualStartTime: new Date(Date.UTC(1899, 11, 31)) }, 'VirtualStartTime before 1900');
  await bad({ taskChannel: 'no-such-channel' }, 'unknown TaskChannel');
  await bad({ workflowSid: 'WW' + '0'.repeat(32) }, 'unknown WorkflowSid');
  assert.equal((await tr.tasks.list()).length, 2, 'failed creates created nothing');
});

// ------------------------------------------------------------------ task list, ETag

test('task list filters (AssignmentStatus array, workflow, queue, EvaluateTaskAttributes, Priority) and Ordering', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const qA = await tr.taskQueues.create({ friendlyName: 'Queue A', targetWorkers: 'team == "a"' });
  const qB = await tr.taskQueues.create({ friendlyName: 'Queue B', targetWorkers: 'team == "b"' });
  const wf1 = await tr.workflows.create({
    friendlyName: 'Teams',
    configuration: routingConfig([
      { filter_friendly_name: 'A', expression: 'team == "a"', targets: [{ queue: qA.sid }] },
      { filter_friendly_name: 'B', expression: 'team == "b"', targets: [{ queue: qB.sid }] },
    ], qB.sid),
  });
  const wf2 = await tr.workflows.create({ friendlyName: 'Overflow', configuration: routingConfig([], qB.sid) });
  const worker = await tr.workers.create({ friendlyName: uniq('w'), activitySid: act.Available.sid, attributes: '{"team":"a"}' });

  // Two workflows now: WorkflowSid can no longer be omitted (OAS CreateTask).
  await expectRestError(tr.tasks.create({ attributes: '{"team":"a"}' }), { status: 400 });

  // One reference second for the whole test: computing it per call can cross a second boundary.
  const base = Math.floor(Date.now() / 1000) * 1000;
  const hoursAgo = (h) => new Date(base - h * 3600_000);
  const mk = (attrs, priority, h, workflowSid = wf1.sid) => tr.tasks.create({ attributes: JSON.stringify(attrs), priority, virtualStartTime: hoursAgo(h), workflowSid });
  const t1 = await mk({ team: 'a', n: 1 }, 5, 4);
  assert.equal(t1.priority, 5);
  assert.equal(t1.virtualStartTime.getTime(), hoursAgo(4).getTime());
  await pollUntil(() => tr.tasks(t1.sid).fetch(), (x) => x.assignmentStatus === 'reserved', { what: 't1 reserved by the only worker' });
  const t2 = await mk({ team: 'b', n: 2 }, 10, 1);
  const t3 = await mk({ team: 'a', n: 3 }, 1, 3);
  const t4 = await mk({ team: 'c', n: 4 }, 7, 2, wf2.sid);
  await tr.tasks(t4.sid).update({ assignmentStatus: 'canceled', reason: 'test' });
  await sleep(100);

  const all = await tr.tasks.list();
  assert.equal(client.httpClient.last.body.meta.key, 'tasks');
  assert.deepEqual(sids(all), [t1.sid, t2.sid, t3.sid, t4.sid], 'default order DateCreated:asc');
  const byId = Object.fromEntries(all.map((t) => [t.sid, t]));
  assert.deepEqual(
    Object.fromEntries(all.map((t) => [t.sid, [t.assignmentStatus, t.taskQueueSid, t.workflowSid, t.priority]])),
    {
      [t1.sid]: ['reserved', qA.sid, wf1.sid, 5],
      [t2.sid]: ['pending', qB.sid, wf1.sid, 10],
      [t3.sid]: ['pending', qA.sid, wf1.sid, 1],
      [t4.sid]: ['canceled', qB.sid, wf2.sid, 7],
    },
  );
  assert.deepEqual(JSON.parse(byId[t3.sid].attributes), { team: 'a', n: 3 }, 'attributes are populated in lists');

  const q = async (opts) => sids(await tr.tasks.list(opts));
  assert.deepEqual(await q({ assignmentStatus: ['pending', 'reserved'] }), [t1.sid, t2.sid, t3.sid]);
  assert.deepEqual(await q({ assignmentStatus: ['reserved'] }), [t1.sid]);
  assert.deepEqual(await q({ assignmentStatus: ['canceled'] }), [t4.sid]);
  assert.deepEqual(await q({ assignmentStatus: ['assigned', 'completed', 'wrapping'] }), []);
  assert.deepEqual(await q({ workflowSid: wf2.sid }), [t4.sid]);
  assert.deepEqual(await q({ workflowName: 'Teams' }), [t1.sid, t2.sid, t3.sid]);
  assert.deepEqual(await q({ taskQueueSid: qA.sid }), [t1.sid, t3.sid]);
  assert.deepEqual(await q({ taskQueueName: 'Queue A' }), [t1.sid, t3.sid]);
  assert.deepEqual(await q({ taskQueueSid: qB.sid, assignmentStatus: ['pending'] }), [t2.sid]);
  assert.deepEqual(await q({ evaluateTaskAttributes: 'team == "a"' }), [t1.sid, t3.sid]);
  assert.deepEqual(await q({ evaluateTaskAttributes: "team IN ['b', 'c'] AND n >= 2" }), [t2.sid, t4.sid]);
  assert.deepEqual(await q({ priority: 10 }), [t2.sid]);
  assert.deepEqual(await q({ workflowSid: wf1.sid, priority: 5, assignmentStatus: ['reserved'] }), [t1.sid]);

  assert.deepEqual(await q({ ordering: 'Priority:desc' }), [t2.sid, t4.sid, t1.sid, t3.sid]);
  assert.deepEqual(await q({ ordering: 'Priority:asc' }), [t3.sid, t1.sid, t4.sid, t2.sid]);
  assert.deepEqual(await q({ ordering: 'VirtualStartTime:asc' }), [t1.sid, t3.sid, t4.sid, t2.sid]);
  assert.deepEqual(await q({ ordering: 'VirtualStartTime:desc' }), [t2.sid, t4.sid, t3.sid, t1.sid]);
  assert.deepEqual(await q({ ordering: 'Priority:desc', assignmentStatus: ['pending', 'reserved'] }), [t2.sid, t1.sid, t3.sid]);
  assert.deepEqual(await q({ ordering: 'DateCreated:desc' }), [t4.sid, t3.sid, t2.sid, t1.sid]);
  // "The only ordering pairing not allowed is DateCreated and VirtualStartTime."
  await expectRestError(tr.tasks.list({ ordering: 'DateCreated:asc,VirtualStartTime:desc' }), { status: 400 });

  // Paging keeps the filter and the order.
  const page1 = await tr.tasks.page({ ordering: 'Priority:desc', pageSize: 2 });
  assert.deepEqual(sids(page1.instances), [t2.sid, t4.sid]);
  const page2 = await page1.nextPage();
  assert.deepEqual(sids(page2.instances), [t1.sid, t3.sid]);
  assert.equal(worker.available, true);
});

test('task ETag / If-Match (update and delete → 412/20412 when stale); reservation If-Match', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const nobody = await tr.taskQueues.create({ friendlyName: uniq('nobody'), targetWorkers: 'skill == "nobody"' });
  const wf = await tr.workflows.create({ friendlyName: uniq('wf'), configuration: routingConfig([{ expression: 'kind == "held"', targets: [{ queue: nobody.sid }] }], nobody.sid) });
  const t = await tr.tasks.create({ attributes: '{"kind":"held"}', workflowSid: wf.sid });
  await sleep(100);
  const fetched = await tr.tasks(t.sid).fetchWithHttpInfo();
  const etag = fetched.headers.etag;
  assert.ok(etag !== undefined && etag !== '', `task fetch returns an ETag header, headers: ${JSON.stringify(fetched.headers)}`);
  const again = await tr.tasks(t.sid).fetchWithHttpInfo();
  assert.equal(again.headers.etag, etag, 'ETag is stable while the task does not change');

  const ok = await tr.tasks(t.sid).updateWithHttpInfo({ priority: 3, ifMatch: etag });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.body.priority, 3);
  const etag2 = ok.headers.etag;
  assert.ok(etag2, 'update returns an ETag header');
  assert.notEqual(etag2, etag, 'ETag changes when the task changes');
  await expectRestError(tr.tasks(t.sid).update({ priority: 4, ifMatch: etag }), { status: 412, code: 20412 });
  assert.equal((await tr.tasks(t.sid).fetch()).priority, 3, 'the stale update did not apply');
  await expectRestError(tr.tasks(t.sid).remove({ ifMatch: etag }), { status: 412, code: 20412 });
  assert.equal(await tr.tasks(t.sid).remove({ ifMatch: etag2 }), true);
  await expectRestError(tr.tasks(t.sid).fetch(), { status: 404, code: 20404 });

  // Reservations carry an ETag too (spec: fetch/update) and honour If-Match on update.
  const q = await tr.taskQueues.create({ friendlyName: uniq('q') });
  const wf2 = await tr.workflows.create({ friendlyName: uniq('wf2'), configuration: routingConfig([], q.sid) });
  const w = await tr.workers.create({ friendlyName: uniq('w'), activitySid: act.Available.sid });
  const t2 = await tr.tasks.create({ attributes: '{"kind":"live"}', workflowSid: wf2.sid });
  await pollUntil(() => tr.tasks(t2.sid).fetch(), (x) => x.assignmentStatus === 'reserved', { what: 'reserved' });
  const [r] = await tr.workers(w.sid).reservations.list();
  const rf = await tr.tasks(t2.sid).reservations(r.sid).fetchWithHttpInfo();
  const retag = rf.headers.etag;
  assert.ok(retag !== undefined && retag !== '', 'reservation fetch returns an ETag header');
  await expectRestError(tr.tasks(t2.sid).reservations(r.sid).update({ reservationStatus: 'accepted', ifMatch: '"987654321"' }), { status: 412, code: 20412 });
  assert.equal((await tr.tasks(t2.sid).reservations(r.sid).fetch()).reservationStatus, 'pending');
  const acc = await tr.tasks(t2.sid).reservations(r.sid).updateWithHttpInfo({ reservationStatus: 'accepted', ifMatch: retag });
  assert.equal(acc.body.reservationStatus, 'accepted');
  assert.ok(acc.headers.etag && acc.headers.etag !== retag, 'reservation ETag changes on update');
});
