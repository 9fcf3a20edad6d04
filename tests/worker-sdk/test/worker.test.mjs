// Twilio's official Worker SDK (twilio-taskrouter) against Switchyard's event bridge, unchanged
// but for the two URLs: a worker connects with an access token minted by Twilio's helper
// library, becomes ready, and changes its activity.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import twilio from 'twilio';
import TR from 'twilio-taskrouter';
import {
  ACCOUNT, eventually, rest as restAt, startServer,
} from '../../lib/switchyard.mjs';

const { Worker, Workspace } = TR;
const KEY_SID = 'SK00000000000000000000000000000000';
const KEY_SECRET = 'switchyard-dev-api-key-secret';

let server; let base;
const workers = []; // every Worker made, disconnected at the end

/** A REST call to the suite's server. */
const rest = (method, path, form) => restAt(base, method, path, form);

/** An access token as an app mints one with Twilio's helper library. */
function accessToken(workspaceSid, workerSid, ttl = 3600, role = 'worker', secret = KEY_SECRET) {
  const { AccessToken } = twilio.jwt;
  const token = new AccessToken(ACCOUNT, KEY_SID, secret, { identity: 'alice', ttl });
  token.addGrant(new AccessToken.TaskRouterGrant({ workspaceSid, workerSid, role }));
  return token.toJwt();
}

function connect(token, options = {}) {
  const worker = new Worker(token, {
    ebServer: `${base}/v1/wschannels`,
    wsServer: `${base.replace('http://', 'ws://')}/v1/wschannels`,
    logLevel: 'error',
    ...options,
  });
  workers.push(worker);
  return worker;
}

/** The next `event` the emitter emits, within `ms`; an `error` first fails it, unless told not to. */
function next(emitter, event, ms = 10000, { failOnError = true } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${ms} ms`)), ms);
    emitter.once(event, (...args) => { clearTimeout(timer); resolve(args); });
    if (failOnError) emitter.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Runs `f`, naming the step in the error: the SDK's errors say little of where. */
async function step(name, f) {
  try {
    return await f();
  } catch (e) {
    throw new Error(`${name}: ${e?.message || JSON.stringify(e)} ${e?.response?.status ?? ''} ${JSON.stringify(e?.response?.data ?? '')}`);
  }
}

before(async () => {
  ({ child: server, url: base } = await startServer());
});

after(async () => {
  for (const w of workers) {
    try { w.disconnect(); } catch { /* already gone */ }
  }
  server?.kill();
});

test('a worker connects with an access token, becomes ready, and changes its activity', async () => {
  const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Agents' })).sid;
  const activities = (await rest('GET', `/Workspaces/${ws}/Activities`)).activities;
  const sid = (name) => activities.find((a) => a.friendly_name === name).sid;
  const wk = (await rest('POST', `/Workspaces/${ws}/Workers`, {
    FriendlyName: 'Alice', Attributes: '{"languages":["en"]}',
  })).sid;

  const worker = connect(accessToken(ws, wk));
  await next(worker, 'ready');
  assert.equal(worker.sid, wk);
  assert.equal(worker.name, 'Alice');
  assert.equal(worker.activity.name, 'Offline');
  assert.deepEqual(worker.attributes, { languages: ['en'] });
  assert.ok(worker.activities.size >= 3, 'the workspace activities are known');

  // Going Available through the SDK changes the worker on the server.
  const available = worker.activities.get(sid('Available'));
  await available.setAsCurrent();
  assert.equal(worker.activity.name, 'Available');
  const fetched = await rest('GET', `/Workspaces/${ws}/Workers/${wk}`);
  assert.equal(fetched.activity_name, 'Available');
});

test('a worker is offered a task over its socket and accepts it through the SDK', async () => {
  const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Support' })).sid;
  const queue = (await rest('POST', `/Workspaces/${ws}/TaskQueues`, { FriendlyName: 'Everyone' })).sid;
  const workflow = (await rest('POST', `/Workspaces/${ws}/Workflows`, {
    FriendlyName: 'All',
    Configuration: JSON.stringify({ task_routing: { default_filter: { queue } } }),
  })).sid;
  const wk = (await rest('POST', `/Workspaces/${ws}/Workers`, { FriendlyName: 'Bob' })).sid;
  const worker = connect(accessToken(ws, wk));
  await next(worker, 'ready');
  const available = [...worker.activities.values()].find((a) => a.name === 'Available');
  await available.setAsCurrent();

  const offered = next(worker, 'reservationCreated');
  const task = (await rest('POST', `/Workspaces/${ws}/Tasks`, {
    WorkflowSid: workflow, Attributes: '{"topic":"billing"}',
  })).sid;
  const [reservation] = await offered;
  assert.equal(reservation.status, 'pending');
  assert.equal(reservation.task.sid, task);
  assert.deepEqual(reservation.task.attributes, { topic: 'billing' });
  assert.equal(reservation.task.queueName, 'Everyone');

  const accepted = next(reservation, 'accepted');
  await reservation.accept();
  await accepted;
  assert.equal(reservation.status, 'accepted');
  const fetched = await rest('GET', `/Workspaces/${ws}/Tasks/${task}`);
  assert.equal(fetched.assignment_status, 'assigned');

  // The agent finishes: the task completes through the SDK, with its reason.
  await reservation.task.complete('resolved on the first call');
  const done = await rest('GET', `/Workspaces/${ws}/Tasks/${task}`);
  assert.equal(done.assignment_status, 'completed');
  assert.equal(done.reason, 'resolved on the first call');
  assert.equal(reservation.task.status, 'completed');
});

test('a worker whose last socket closes goes to the workspace default (Offline) activity', async () => {
  const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Shifts' })).sid;
  const activities = (await rest('GET', `/Workspaces/${ws}/Activities`)).activities;
  const available = activities.find((a) => a.friendly_name === 'Available').sid;
  const wk = (await rest('POST', `/Workspaces/${ws}/Workers`, { FriendlyName: 'Carol', ActivitySid: available })).sid;
  const worker = connect(accessToken(ws, wk));
  await next(worker, 'ready');
  worker.disconnect();
  await eventually(async () => {
    const w = await rest('GET', `/Workspaces/${ws}/Workers/${wk}`);
    return w.activity_name === 'Offline';
  }, 5000, 'the worker going offline');
});

test('with version checks on, the worker\'s version rises as the SDK expects', async () => {
  const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Versions' })).sid;
  const queue = (await rest('POST', `/Workspaces/${ws}/TaskQueues`, { FriendlyName: 'Q' })).sid;
  const workflow = (await rest('POST', `/Workspaces/${ws}/Workflows`, {
    FriendlyName: 'F', Configuration: JSON.stringify({ task_routing: { default_filter: { queue } } }),
  })).sid;
  const wk = (await rest('POST', `/Workspaces/${ws}/Workers`, { FriendlyName: 'Dan' })).sid;
  const worker = connect(accessToken(ws, wk), { enableVersionCheck: true });
  await next(worker, 'ready');
  const activity = (name) => [...worker.activities.values()].find((a) => a.name === name);
  await step('available', () => activity('Available').setAsCurrent());
  const offered = next(worker, 'reservationCreated');
  await rest('POST', `/Workspaces/${ws}/Tasks`, { WorkflowSid: workflow, Attributes: '{}' });
  const [reservation] = await offered;
  // The SDK bumped its copy of the worker's version on the reservation: the server did too,
  // or this If-Match request would fail.
  await step('accept', () => reservation.accept());
  await step('activity', () => activity('Unavailable').setAsCurrent());
  const fetched = await rest('GET', `/Workspaces/${ws}/Workers/${wk}`);
  assert.equal(fetched.activity_name, 'Unavailable');
});

test('channel capacity and availability changed over REST reach the SDK\'s channel', async () => {
  const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Channels', MultiTaskEnabled: 'true' })).sid;
  const wk = (await rest('POST', `/Workspaces/${ws}/Workers`, { FriendlyName: 'Fay' })).sid;
  const worker = connect(accessToken(ws, wk), { enableVersionCheck: true });
  await next(worker, 'ready');
  const channel = [...worker.channels.values()].find((c) => c.taskChannelUniqueName === 'default');
  assert.equal(channel.capacity, 1);

  const resized = next(channel, 'capacityUpdated');
  await rest('POST', `/Workspaces/${ws}/Workers/${wk}/Channels/default`, { Capacity: '3' });
  await resized;
  assert.equal(channel.capacity, 3);

  const switched = next(channel, 'availabilityUpdated');
  await rest('POST', `/Workspaces/${ws}/Workers/${wk}/Channels/default`, { Available: 'false' });
  await switched;
  assert.equal(channel.available, false);

  // The SDK bumped its copy of the worker's version on each event: so did the server, or
  // this If-Match request would fail.
  await step('activity', () => [...worker.activities.values()].find((a) => a.name === 'Available').setAsCurrent());
});

test('a deleted worker\'s socket closes', async () => {
  const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Leavers' })).sid;
  const wk = (await rest('POST', `/Workspaces/${ws}/Workers`, { FriendlyName: 'Gus' })).sid;
  const worker = connect(accessToken(ws, wk));
  await next(worker, 'ready');
  const gone = next(worker, 'disconnected', 10000, { failOnError: false });
  await rest('DELETE', `/Workspaces/${ws}/Workers/${wk}`);
  await gone;
});

test('task events reach the worker holding it, and a worker creates an outbound task', async () => {
  const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Outbound' })).sid;
  const queue = (await rest('POST', `/Workspaces/${ws}/TaskQueues`, { FriendlyName: 'Calls' })).sid;
  const workflow = (await rest('POST', `/Workspaces/${ws}/Workflows`, {
    FriendlyName: 'F', Configuration: JSON.stringify({ task_routing: { default_filter: { queue } } }),
  })).sid;
  const wk = (await rest('POST', `/Workspaces/${ws}/Workers`, { FriendlyName: 'Erin' })).sid;
  const worker = connect(accessToken(ws, wk));
  await next(worker, 'ready');
  await [...worker.activities.values()].find((a) => a.name === 'Available').setAsCurrent();

  // An outbound task, created by the agent: routed like any other, back to this worker.
  const offered = next(worker, 'reservationCreated');
  const sid = await step('createTask', () => worker.createTask('+15550001', '+15550002', workflow, queue));
  const [reservation] = await offered;
  assert.equal(reservation.task.sid, sid);
  assert.equal(reservation.task.attributes.outbound_to, '+15550001');
  await reservation.accept();

  // The app completes the task over REST: the agent's SDK hears it.
  const completed = next(reservation.task, 'completed');
  await rest('POST', `/Workspaces/${ws}/Tasks/${sid}`, { AssignmentStatus: 'completed', Reason: 'call ended' });
  await completed;
  assert.equal(reservation.task.status, 'completed');
  assert.equal(reservation.task.reason, 'call ended');
});

test('changes made over REST reach the SDK, and reject() returns the task to pending', async () => {
  const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Both ways' })).sid;
  const queue = (await rest('POST', `/Workspaces/${ws}/TaskQueues`, { FriendlyName: 'Q' })).sid;
  const workflow = (await rest('POST', `/Workspaces/${ws}/Workflows`, {
    FriendlyName: 'F', Configuration: JSON.stringify({ task_routing: { default_filter: { queue } } }),
  })).sid;
  const activities = (await rest('GET', `/Workspaces/${ws}/Activities`)).activities;
  const available = activities.find((a) => a.friendly_name === 'Available').sid;
  const wk = (await rest('POST', `/Workspaces/${ws}/Workers`, { FriendlyName: 'Finn' })).sid;
  const worker = connect(accessToken(ws, wk));
  await next(worker, 'ready');

  const activityChanged = next(worker, 'activityUpdated');
  await rest('POST', `/Workspaces/${ws}/Workers/${wk}`, { ActivitySid: available });
  await activityChanged;
  assert.equal(worker.activity.name, 'Available');

  const attributesChanged = next(worker, 'attributesUpdated');
  await rest('POST', `/Workspaces/${ws}/Workers/${wk}`, { Attributes: '{"skills":["es"]}' });
  await attributesChanged;
  assert.deepEqual(worker.attributes, { skills: ['es'] });

  await step('setAttributes', () => worker.setAttributes({ skills: ['es', 'fr'] }));
  const fetched = await rest('GET', `/Workspaces/${ws}/Workers/${wk}`);
  assert.deepEqual(JSON.parse(fetched.attributes), { skills: ['es', 'fr'] });

  const offered = next(worker, 'reservationCreated');
  const task = (await rest('POST', `/Workspaces/${ws}/Tasks`, { WorkflowSid: workflow, Attributes: '{}' })).sid;
  const [reservation] = await offered;
  await step('reject', () => reservation.reject());
  const pending = await rest('GET', `/Workspaces/${ws}/Tasks/${task}`);
  assert.equal(pending.assignment_status, 'pending');
});

test('a supervisor token lists the workspace\'s workers', async () => {
  const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Floor' })).sid;
  const names = ['Gus', 'Hana', 'Ivo'];
  const sids = [];
  for (const name of names) {
    sids.push((await rest('POST', `/Workspaces/${ws}/Workers`, { FriendlyName: name })).sid);
  }
  const workspace = new Workspace(accessToken(ws, sids[0], 3600, 'supervisor'), {
    ebServer: `${base}/v1/wschannels`,
    wsServer: `${base.replace('http://', 'ws://')}/v1/wschannels`,
    logLevel: 'error',
    pageSize: 2,
  }, ws);
  const workers = await step('fetchWorkers', () => workspace.fetchWorkers());
  assert.deepEqual([...workers.values()].map((w) => w.name).sort(), names);
  // With an Ordering, pages follow NextToken instead of AfterSid.
  const ordered = await step('fetchWorkers ordered', () => workspace.fetchWorkers({ Ordering: 'DateCreated:asc' }));
  assert.deepEqual([...ordered.values()].map((w) => w.name).sort(), names);


  // Its task queues, paged, and one by SID, with the SDK's descriptor fields.
  const busy = (await rest('GET', `/Workspaces/${ws}/Activities?FriendlyName=Unavailable`)).activities[0];
  const queues = [];
  for (const [name, target] of [['Sales', 'team == "sales"'], ['Support', '1==1'], ['VIP', 'vip == true']]) {
    queues.push((await rest('POST', `/Workspaces/${ws}/TaskQueues`, {
      FriendlyName: name, TargetWorkers: target, AssignmentActivitySid: busy.sid, TaskOrder: name === 'VIP' ? 'LIFO' : 'FIFO',
    })).sid);
  }
  const fetched = await step('fetchTaskQueues', () => workspace.fetchTaskQueues());
  assert.deepEqual([...fetched.keys()], queues);
  const vip = fetched.get(queues[2]);
  assert.equal(vip.queueName, 'VIP');
  assert.equal(vip.targetWorkers, 'vip == true');
  assert.equal(vip.taskOrder, 'LIFO');
  assert.equal(vip.assignmentActivityName, 'Unavailable');
  const named = await step('fetchTaskQueues by name', () => workspace.fetchTaskQueues({ FriendlyName: 'Support' }));
  assert.deepEqual([...named.keys()], [queues[1]]);
  // Gus belongs to Support only (1==1): his queues.
  const his = await step('fetchTaskQueues by worker', () => workspace.fetchTaskQueues({ WorkerSid: sids[0] }));
  assert.deepEqual([...his.keys()], [queues[1]]);
  const one = await step('fetchTaskQueue', () => workspace.fetchTaskQueue(queues[0]));
  assert.equal(one.queueName, 'Sales');
  assert.equal(one.maxReservedWorkers, 1);

  // A worker's own token may not list workers.
  const mine = new Workspace(accessToken(ws, sids[0]), {
    ebServer: `${base}/v1/wschannels`, wsServer: `${base.replace('http://', 'ws://')}/v1/wschannels`, logLevel: 'error',
  }, ws);
  await assert.rejects(() => mine.fetchWorkers());
});

test('a bad token never becomes ready', async () => {
  const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Locked' })).sid;
  const wk = (await rest('POST', `/Workspaces/${ws}/Workers`, { FriendlyName: 'Jo' })).sid;
  for (const token of [accessToken(ws, wk, 3600, 'worker', 'not the secret'), accessToken(ws, wk, -60)]) {
    // Silent: the SDK logs every refused reconnection attempt.
    const worker = connect(token, { logLevel: 'silent' });
    let ready = false;
    worker.on('ready', () => { ready = true; });
    worker.on('error', () => {});
    // The socket is refused (401) and closes: past that, nothing could make it ready.
    await next(worker, 'disconnected', 5000, { failOnError: false });
    assert.equal(ready, false);
    worker.disconnect();
  }
});
