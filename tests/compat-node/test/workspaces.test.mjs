import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useServer, uniq, sidPattern, fakeSid, expectRestError, assertWireDate, assertRecentDate, newWorkspace,
} from '../harness.mjs';

const ctx = useServer();

const WORKSPACE_LINKS = [
  ['activities', '/Activities'],
  ['statistics', '/Statistics'],
  ['real_time_statistics', '/RealTimeStatistics'],
  ['cumulative_statistics', '/CumulativeStatistics'],
  ['task_queues', '/TaskQueues'],
  ['tasks', '/Tasks'],
  ['workers', '/Workers'],
  ['workflows', '/Workflows'],
  ['task_channels', '/TaskChannels'],
  ['events', '/Events'],
];

/** Unset URL/string fields: the spec marks them nullable; its examples show "" for event_callback_url. */
function assertUnset(v, what) {
  assert.ok(v === null || v === '', `${what} should be null (or "") when unset, got ${JSON.stringify(v)}`);
}

test('create a workspace: 201, defaults and wire format', async () => {
  const { client, baseUrl, accountSid } = ctx;
  const name = uniq('ws');
  const { statusCode, body: ws } = await client.taskrouter.v1.workspaces.createWithHttpInfo({ friendlyName: name });
  assert.equal(statusCode, 201);
  const raw = client.httpClient.last.body;

  assert.match(ws.sid, sidPattern('WS'));
  assert.equal(ws.accountSid, accountSid);
  assert.equal(ws.friendlyName, name);
  assert.equal(ws.multiTaskEnabled, true, 'MultiTaskEnabled defaults to true on create');
  assert.equal(ws.prioritizeQueueOrder, 'FIFO');
  assert.equal(ws.defaultActivityName, 'Offline');
  assert.equal(ws.timeoutActivityName, 'Offline');
  assert.match(ws.defaultActivitySid, sidPattern('WA'));
  assert.equal(ws.timeoutActivitySid, ws.defaultActivitySid);
  assertUnset(ws.eventCallbackUrl, 'event_callback_url');
  assert.equal(ws.eventsFilter, null);

  assert.equal(ws.url, `${baseUrl}/v1/Workspaces/${ws.sid}`);
  assert.deepEqual(
    Object.keys(ws.links).sort(),
    WORKSPACE_LINKS.map(([k]) => k).sort(),
    'workspace links keys',
  );
  for (const [key, suffix] of WORKSPACE_LINKS) {
    assert.equal(ws.links[key], `${baseUrl}/v1/Workspaces/${ws.sid}${suffix}`, `links.${key}`);
  }

  assertWireDate(raw.date_created, 'date_created');
  assertWireDate(raw.date_updated, 'date_updated');
  assertRecentDate(ws.dateCreated, 'dateCreated');
  assertRecentDate(ws.dateUpdated, 'dateUpdated');
});

test('a new workspace has the default activities Offline/Available/Unavailable', async () => {
  const { client } = ctx;
  const ws = await client.taskrouter.v1.workspaces.create({ friendlyName: uniq('ws') });
  const activities = await client.taskrouter.v1.workspaces(ws.sid).activities.list();
  const byName = Object.fromEntries(activities.map((a) => [a.friendlyName, a.available]));
  assert.deepEqual(byName, { Offline: false, Available: true, Unavailable: false });
  const offline = activities.find((a) => a.friendlyName === 'Offline');
  assert.equal(ws.defaultActivitySid, offline.sid, 'default activity is Offline');
  assert.equal(ws.timeoutActivitySid, offline.sid, 'timeout activity is Offline');
  for (const a of activities) assert.equal(a.workspaceSid, ws.sid);
});

test('a new workspace has the default task channels', async () => {
  const { client } = ctx;
  const ws = await client.taskrouter.v1.workspaces.create({ friendlyName: uniq('ws') });
  const channels = await client.taskrouter.v1.workspaces(ws.sid).taskChannels.list();
  assert.deepEqual(channels.map((c) => c.uniqueName).sort(), ['chat', 'default', 'sms', 'video', 'voice']);
  for (const c of channels) {
    assert.match(c.sid, sidPattern('TC'));
    assert.equal(c.workspaceSid, ws.sid);
  }
});

test('Template NONE (default) creates no queue and no workflow', async () => {
  const { client } = ctx;
  const ws = await client.taskrouter.v1.workspaces.create({ friendlyName: uniq('ws') });
  const tr = client.taskrouter.v1.workspaces(ws.sid);
  assert.deepEqual(await tr.taskQueues.list(), []);
  assert.deepEqual(await tr.workflows.list(), []);
});

test("Template 'FIFO' creates one queue and one workflow routing to it", async () => {
  const { client } = ctx;
  const ws = await client.taskrouter.v1.workspaces.create({ friendlyName: uniq('ws'), template: 'FIFO' });
  const tr = client.taskrouter.v1.workspaces(ws.sid);
  const queues = await tr.taskQueues.list();
  const workflows = await tr.workflows.list();
  assert.equal(queues.length, 1, 'one TaskQueue');
  assert.equal(workflows.length, 1, 'one Workflow');
  const [q] = queues;
  const [wf] = workflows;
  assert.equal(q.targetWorkers, '1==1');
  assert.equal(q.taskOrder, 'FIFO');
  assert.equal(typeof wf.configuration, 'string');
  const cfg = JSON.parse(wf.configuration);
  assert.ok(cfg.task_routing, 'configuration has task_routing');
  const targets = [
    ...(cfg.task_routing.default_filter ? [cfg.task_routing.default_filter] : []),
    ...(cfg.task_routing.filters ?? []).flatMap((f) => f.targets ?? []),
  ];
  assert.ok(targets.length > 0, 'workflow has at least one target');
  for (const t of targets) assert.equal(t.queue, q.sid, 'every target routes to the template queue');
  assert.equal(wf.taskReservationTimeout, 120);
});

test('create with MultiTaskEnabled=false and PrioritizeQueueOrder=LIFO', async () => {
  const { client } = ctx;
  const ws = await client.taskrouter.v1.workspaces.create({
    friendlyName: uniq('ws'), multiTaskEnabled: false, prioritizeQueueOrder: 'LIFO',
    eventCallbackUrl: 'https://example.com/events', eventsFilter: 'task.created,task.canceled',
  });
  assert.equal(ws.multiTaskEnabled, false);
  assert.equal(ws.prioritizeQueueOrder, 'LIFO');
  assert.equal(ws.eventCallbackUrl, 'https://example.com/events');
  assert.equal(ws.eventsFilter, 'task.created,task.canceled');
  const fetched = await client.taskrouter.v1.workspaces(ws.sid).fetch();
  assert.equal(fetched.multiTaskEnabled, false);
  assert.equal(fetched.prioritizeQueueOrder, 'LIFO');
});

test('fetch returns the same workspace', async () => {
  const { client } = ctx;
  const ws = await client.taskrouter.v1.workspaces.create({ friendlyName: uniq('ws') });
  const { statusCode, body: f } = await client.taskrouter.v1.workspaces(ws.sid).fetchWithHttpInfo();
  assert.equal(statusCode, 200);
  assert.deepEqual(f.toJSON(), ws.toJSON());
});

test('update DefaultActivitySid, TimeoutActivitySid, EventCallbackUrl, EventsFilter, PrioritizeQueueOrder, FriendlyName', async () => {
  const { client } = ctx;
  const { ws, act } = await newWorkspace(client);
  const newName = uniq('renamed');
  const { statusCode, body: u } = await client.taskrouter.v1.workspaces(ws.sid).updateWithHttpInfo({
    friendlyName: newName,
    defaultActivitySid: act.Available.sid,
    timeoutActivitySid: act.Unavailable.sid,
    eventCallbackUrl: 'https://example.com/cb',
    eventsFilter: 'worker.activity.update,task.created',
    prioritizeQueueOrder: 'LIFO',
  });
  assert.equal(statusCode, 200);
  assert.equal(u.sid, ws.sid);
  assert.equal(u.friendlyName, newName);
  assert.equal(u.defaultActivitySid, act.Available.sid);
  assert.equal(u.defaultActivityName, 'Available');
  assert.equal(u.timeoutActivitySid, act.Unavailable.sid);
  assert.equal(u.timeoutActivityName, 'Unavailable');
  assert.equal(u.eventCallbackUrl, 'https://example.com/cb');
  assert.equal(u.eventsFilter, 'worker.activity.update,task.created');
  assert.equal(u.prioritizeQueueOrder, 'LIFO');
  assert.equal(u.multiTaskEnabled, true, 'unchanged fields stay');
  assert.ok(u.dateUpdated.getTime() >= ws.dateUpdated.getTime());
  assert.equal(u.dateCreated.getTime(), ws.dateCreated.getTime());

  const f = await client.taskrouter.v1.workspaces(ws.sid).fetch();
  assert.deepEqual(f.toJSON(), u.toJSON(), 'fetch after update returns the updated workspace');

  // Partial update leaves the other fields alone.
  const u2 = await client.taskrouter.v1.workspaces(ws.sid).update({ eventsFilter: 'task.completed' });
  assert.equal(u2.eventsFilter, 'task.completed');
  assert.equal(u2.defaultActivitySid, act.Available.sid);
  assert.equal(u2.eventCallbackUrl, 'https://example.com/cb');
  assert.equal(u2.friendlyName, newName);
});

test('new workers get the (updated) default activity', async () => {
  const { client } = ctx;
  const { ws, act, tr } = await newWorkspace(client);
  await client.taskrouter.v1.workspaces(ws.sid).update({ defaultActivitySid: act.Available.sid });
  const w = await tr.workers.create({ friendlyName: uniq('w') });
  assert.equal(w.activitySid, act.Available.sid);
  assert.equal(w.activityName, 'Available');
  assert.equal(w.available, true);
});

test('update with an unknown DefaultActivitySid is rejected with 400', async () => {
  const { client } = ctx;
  const { ws } = await newWorkspace(client);
  await expectRestError(
    client.taskrouter.v1.workspaces(ws.sid).update({ defaultActivitySid: fakeSid('WA') }),
    { status: 400 },
  );
});

test('list with FriendlyName filter', async () => {
  const { client } = ctx;
  const a = await client.taskrouter.v1.workspaces.create({ friendlyName: uniq('wsA') });
  const b = await client.taskrouter.v1.workspaces.create({ friendlyName: uniq('wsB') });
  const onlyA = await client.taskrouter.v1.workspaces.list({ friendlyName: a.friendlyName });
  assert.deepEqual(onlyA.map((w) => w.sid), [a.sid]);
  const raw = client.httpClient.last.body;
  assert.equal(raw.meta.key, 'workspaces');

  const none = await client.taskrouter.v1.workspaces.list({ friendlyName: uniq('nope') });
  assert.deepEqual(none, []);

  const all = await client.taskrouter.v1.workspaces.list();
  const sids = all.map((w) => w.sid);
  assert.ok(sids.includes(a.sid) && sids.includes(b.sid), 'unfiltered list includes both');
  assert.equal(new Set(sids).size, sids.length, 'no duplicates');
});

test('delete: SDK returns true (HTTP 204), then fetch is 404 and children are gone', async () => {
  const { client } = ctx;
  const { ws, act } = await newWorkspace(client);
  const ctxWs = client.taskrouter.v1.workspaces(ws.sid);
  const { statusCode, body } = await ctxWs.removeWithHttpInfo();
  assert.equal(statusCode, 204);
  assert.equal(body, true);
  assert.equal(client.httpClient.last.body === '' || client.httpClient.last.body == null, true, 'empty body on 204');
  await expectRestError(ctxWs.fetch(), { status: 404, code: 20404 });
  await expectRestError(ctxWs.activities(act.Offline.sid).fetch(), { status: 404, code: 20404 });
  const listed = await client.taskrouter.v1.workspaces.list({ friendlyName: ws.friendlyName });
  assert.deepEqual(listed, []);

  const ws2 = await client.taskrouter.v1.workspaces.create({ friendlyName: uniq('ws') });
  assert.equal(await client.taskrouter.v1.workspaces(ws2.sid).remove(), true, 'remove() resolves to true');
  await expectRestError(client.taskrouter.v1.workspaces(ws2.sid).remove(), { status: 404, code: 20404 });
});

test('Template and PrioritizeQueueOrder only take their enum values', async () => {
  const { client } = ctx;
  await expectRestError(client.taskrouter.v1.workspaces.create({ friendlyName: uniq('ws'), template: 'XYZ' }), { status: 400 });
  await expectRestError(client.taskrouter.v1.workspaces.create({ friendlyName: uniq('ws'), prioritizeQueueOrder: 'RANDOM' }), { status: 400 });
  const { ws } = await newWorkspace(client);
  await expectRestError(client.taskrouter.v1.workspaces(ws.sid).update({ prioritizeQueueOrder: 'RANDOM' }), { status: 400 });
});
