import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useServer, uniq, sidPattern, fakeSid, expectRestError, assertWireDate, assertRecentDate, newWorkspace,
} from '../harness.mjs';

const ctx = useServer();

const sids = (list) => list.map((x) => x.sid).sort();

function queueLinks(baseUrl, ws, wq) {
  const w = `${baseUrl}/v1/Workspaces/${ws}`;
  return {
    workspace: w,
    statistics: `${w}/TaskQueues/${wq}/Statistics`,
    real_time_statistics: `${w}/TaskQueues/${wq}/RealTimeStatistics`,
    cumulative_statistics: `${w}/TaskQueues/${wq}/CumulativeStatistics`,
    list_statistics: `${w}/TaskQueues/Statistics`,
    bulk_real_time_statistics: `${w}/TaskQueues/RealTimeStatistics`,
  };
}

test('create a task queue: 201, defaults, url, links, dates', async () => {
  const { client, baseUrl, accountSid } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const name = uniq('Support');
  const { statusCode, body: q } = await tr.taskQueues.createWithHttpInfo({ friendlyName: name });
  assert.equal(statusCode, 201);
  const raw = client.httpClient.last.body;
  assert.match(q.sid, sidPattern('WQ'));
  assert.equal(q.accountSid, accountSid);
  assert.equal(q.workspaceSid, ws.sid);
  assert.equal(q.friendlyName, name);
  assert.equal(q.targetWorkers, '1==1', 'TargetWorkers defaults to 1==1');
  assert.equal(q.maxReservedWorkers, 1);
  assert.equal(typeof raw.max_reserved_workers, 'number');
  assert.equal(q.taskOrder, 'FIFO');
  assert.equal(q.url, `${baseUrl}/v1/Workspaces/${ws.sid}/TaskQueues/${q.sid}`);
  const links = queueLinks(baseUrl, ws.sid, q.sid);
  for (const [k, v] of Object.entries(links)) assert.equal(q.links[k], v, `links.${k}`);
  assertWireDate(raw.date_created, 'date_created');
  assertWireDate(raw.date_updated, 'date_updated');
  assertRecentDate(q.dateCreated);
  assertRecentDate(q.dateUpdated);
});

test('create with all parameters: reservation/assignment activities, LIFO, MaxReservedWorkers', async () => {
  const { client, baseUrl } = ctx;
  const { ws, act, tr } = await newWorkspace(client);
  const q = await tr.taskQueues.create({
    friendlyName: uniq('Sales'),
    targetWorkers: "languages HAS 'es' AND level >= 2",
    maxReservedWorkers: 5,
    taskOrder: 'LIFO',
    reservationActivitySid: act.Unavailable.sid,
    assignmentActivitySid: act.Offline.sid,
  });
  assert.equal(q.targetWorkers, "languages HAS 'es' AND level >= 2");
  assert.equal(q.maxReservedWorkers, 5);
  assert.equal(q.taskOrder, 'LIFO');
  assert.equal(q.reservationActivitySid, act.Unavailable.sid);
  assert.equal(q.reservationActivityName, 'Unavailable');
  assert.equal(q.assignmentActivitySid, act.Offline.sid);
  assert.equal(q.assignmentActivityName, 'Offline');
  assert.equal(q.links.reservation_activity, `${baseUrl}/v1/Workspaces/${ws.sid}/Activities/${act.Unavailable.sid}`);
  assert.equal(q.links.assignment_activity, `${baseUrl}/v1/Workspaces/${ws.sid}/Activities/${act.Offline.sid}`);
  const f = await tr.taskQueues(q.sid).fetch();
  assert.deepEqual(f.toJSON(), q.toJSON());
});

test('update every field', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const q = await tr.taskQueues.create({ friendlyName: uniq('Q') });
  const name = uniq('Q2');
  const { statusCode, body: u } = await tr.taskQueues(q.sid).updateWithHttpInfo({
    friendlyName: name,
    targetWorkers: "team == 'blue'",
    maxReservedWorkers: 50,
    taskOrder: 'LIFO',
    reservationActivitySid: act.Unavailable.sid,
    assignmentActivitySid: act.Unavailable.sid,
  });
  assert.equal(statusCode, 200);
  assert.equal(u.friendlyName, name);
  assert.equal(u.targetWorkers, "team == 'blue'");
  assert.equal(u.maxReservedWorkers, 50);
  assert.equal(u.taskOrder, 'LIFO');
  assert.equal(u.reservationActivityName, 'Unavailable');
  assert.equal(u.assignmentActivityName, 'Unavailable');
  const u2 = await tr.taskQueues(q.sid).update({ taskOrder: 'FIFO' });
  assert.equal(u2.taskOrder, 'FIFO');
  assert.equal(u2.targetWorkers, "team == 'blue'", 'partial update keeps other fields');
  assert.equal(u2.maxReservedWorkers, 50);
  assert.deepEqual((await tr.taskQueues(q.sid).fetch()).toJSON(), u2.toJSON());
});

test('invalid TargetWorkers expression is a 400', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  for (const bad of ["language == ", "(level > 1", "skills HAS", "1 ==== 1"]) {
    await expectRestError(tr.taskQueues.create({ friendlyName: uniq('bad'), targetWorkers: bad }), { status: 400, code: 20001 });
  }
  const q = await tr.taskQueues.create({ friendlyName: uniq('ok') });
  await expectRestError(tr.taskQueues(q.sid).update({ targetWorkers: 'level >' }), { status: 400, code: 20001 });
  assert.equal((await tr.taskQueues(q.sid).fetch()).targetWorkers, '1==1');
});

test('MaxReservedWorkers must be within 1..50', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  for (const bad of [0, 51, -1]) {
    await expectRestError(tr.taskQueues.create({ friendlyName: uniq('m'), maxReservedWorkers: bad }), { status: 400, code: 20001 });
  }
  assert.equal((await tr.taskQueues.create({ friendlyName: uniq('m'), maxReservedWorkers: 1 })).maxReservedWorkers, 1);
  const q = await tr.taskQueues.create({ friendlyName: uniq('m'), maxReservedWorkers: 50 });
  assert.equal(q.maxReservedWorkers, 50);
  await expectRestError(tr.taskQueues(q.sid).update({ maxReservedWorkers: 51 }), { status: 400, code: 20001 });
  await expectRestError(tr.taskQueues(q.sid).update({ maxReservedWorkers: 0 }), { status: 400, code: 20001 });
});

test('TaskOrder must be FIFO or LIFO', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  await expectRestError(tr.taskQueues.create({ friendlyName: uniq('t'), taskOrder: 'RANDOM' }), { status: 400 });
});

test('unknown reservation/assignment activity is a 400', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  await expectRestError(tr.taskQueues.create({ friendlyName: uniq('a'), reservationActivitySid: fakeSid('WA') }), { status: 400 });
  await expectRestError(tr.taskQueues.create({ friendlyName: uniq('a'), assignmentActivitySid: fakeSid('WA') }), { status: 400 });
});

test('queue friendly names are unique per workspace', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const q = await tr.taskQueues.create({ friendlyName: uniq('Chat Queue') });
  // Real TaskRouter: 400 / 20001 "Queue named ... already exists for workspace ..."
  await expectRestError(tr.taskQueues.create({ friendlyName: q.friendlyName }), { status: 400, code: 20001 });
});

test('list filters: FriendlyName, EvaluateWorkerAttributes, WorkerSid', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const qEs = await tr.taskQueues.create({ friendlyName: uniq('es'), targetWorkers: "language == 'es'" });
  const qAll = await tr.taskQueues.create({ friendlyName: uniq('all'), targetWorkers: '1==1' });
  const qVip = await tr.taskQueues.create({ friendlyName: uniq('vip'), targetWorkers: 'level >= 3' });

  assert.deepEqual(sids(await tr.taskQueues.list()), sids([qEs, qAll, qVip]));
  assert.equal(client.httpClient.last.body.meta.key, 'task_queues');
  assert.deepEqual(sids(await tr.taskQueues.list({ friendlyName: qVip.friendlyName })), [qVip.sid], 'FriendlyName');
  assert.deepEqual(await tr.taskQueues.list({ friendlyName: uniq('none') }), []);

  assert.deepEqual(
    sids(await tr.taskQueues.list({ evaluateWorkerAttributes: JSON.stringify({ language: 'es', level: 1 }) })),
    sids([qEs, qAll]), 'EvaluateWorkerAttributes es/1',
  );
  assert.deepEqual(
    sids(await tr.taskQueues.list({ evaluateWorkerAttributes: JSON.stringify({ level: 5 }) })),
    sids([qAll, qVip]), 'EvaluateWorkerAttributes level 5',
  );

  await expectRestError(tr.taskQueues.list({ evaluateWorkerAttributes: '{not json' }), { status: 400 });

  const w = await tr.workers.create({ friendlyName: uniq('w'), attributes: JSON.stringify({ language: 'es', level: 4 }) });
  const w2 = await tr.workers.create({ friendlyName: uniq('w'), attributes: JSON.stringify({ language: 'en' }) });
  assert.deepEqual(sids(await tr.taskQueues.list({ workerSid: w.sid })), sids([qEs, qAll, qVip]), 'WorkerSid (es, level 4)');
  assert.deepEqual(sids(await tr.taskQueues.list({ workerSid: w2.sid })), [qAll.sid], 'WorkerSid (en)');
  // Membership follows attribute updates.
  await tr.workers(w2.sid).update({ attributes: JSON.stringify({ language: 'es' }) });
  assert.deepEqual(sids(await tr.taskQueues.list({ workerSid: w2.sid })), sids([qEs, qAll]), 'WorkerSid after attribute update');
});

test('delete an unused queue: 204, then 404', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const q = await tr.taskQueues.create({ friendlyName: uniq('tmp') });
  const { statusCode, body } = await tr.taskQueues(q.sid).removeWithHttpInfo();
  assert.equal(statusCode, 204);
  assert.equal(body, true);
  await expectRestError(tr.taskQueues(q.sid).fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.taskQueues(q.sid).remove(), { status: 404, code: 20404 });
  assert.deepEqual(await tr.taskQueues.list(), []);
});

test('a queue used by a workflow cannot be deleted (400) until the workflow is gone', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const q = await tr.taskQueues.create({ friendlyName: uniq('used') });
  const wf = await tr.workflows.create({
    friendlyName: uniq('wf'),
    configuration: JSON.stringify({ task_routing: { default_filter: { queue: q.sid } } }),
  });
  await expectRestError(tr.taskQueues(q.sid).remove(), { status: 400 });
  assert.equal((await tr.taskQueues(q.sid).fetch()).sid, q.sid, 'queue still exists');
  assert.equal(await tr.workflows(wf.sid).remove(), true);
  assert.equal(await tr.taskQueues(q.sid).remove(), true);
});

test("TargetWorkers='' is kept empty: no worker belongs to the queue", async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  // Spec (CreateTaskQueueRequest.TargetWorkers): "The default value is `1==1`. If this value is empty,
  // Tasks will wait in the TaskQueue until they are deleted or moved to another TaskQueue."
  await tr.workers.create({ friendlyName: uniq('w') });
  const q = await tr.taskQueues.create({ friendlyName: uniq('parking'), targetWorkers: '' });
  assert.ok(q.targetWorkers === '' || q.targetWorkers === null, `target_workers should stay empty, got ${JSON.stringify(q.targetWorkers)}`);
  assert.deepEqual(await tr.workers.list({ taskQueueSid: q.sid }), [], 'no worker is eligible for an empty TargetWorkers');
});
