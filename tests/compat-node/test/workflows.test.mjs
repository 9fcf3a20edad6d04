import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useServer, uniq, sidPattern, fakeSid, expectRestError, assertWireDate, assertRecentDate, newWorkspace,
} from '../harness.mjs';

const ctx = useServer();

function assertUnset(v, what) {
  assert.ok(v === null || v === '', `${what} should be null (or "") when unset, got ${JSON.stringify(v)}`);
}

async function setup(client) {
  const w = await newWorkspace(client);
  const q1 = await w.tr.taskQueues.create({ friendlyName: uniq('q1') });
  const q2 = await w.tr.taskQueues.create({ friendlyName: uniq('q2'), targetWorkers: "language == 'es'" });
  return { ...w, q1, q2 };
}

function multiStepConfig(q1, q2) {
  return {
    task_routing: {
      filters: [
        {
          filter_friendly_name: 'Spanish',
          expression: "language == 'es' AND type == 'support'",
          targets: [
            { queue: q2.sid, priority: 10, timeout: 300, expression: 'task.skill == worker.skill' },
            { queue: q1.sid, order_by: 'worker.level DESC' },
          ],
        },
      ],
      default_filter: { queue: q1.sid },
    },
  };
}

test('create a workflow: 201, defaults, configuration round trip, url, links', async () => {
  const { client, baseUrl, accountSid } = ctx;
  const { ws, tr, q1, q2 } = await setup(client);
  const configuration = JSON.stringify(multiStepConfig(q1, q2));
  const name = uniq('Inbound');
  const { statusCode, body: wf } = await tr.workflows.createWithHttpInfo({ friendlyName: name, configuration });
  assert.equal(statusCode, 201);
  const raw = client.httpClient.last.body;
  assert.match(wf.sid, sidPattern('WW'));
  assert.equal(wf.accountSid, accountSid);
  assert.equal(wf.workspaceSid, ws.sid);
  assert.equal(wf.friendlyName, name);
  assert.equal(typeof wf.configuration, 'string', 'configuration is a JSON string');
  assert.deepEqual(JSON.parse(wf.configuration), JSON.parse(configuration));
  assert.equal(wf.taskReservationTimeout, 120, 'TaskReservationTimeout defaults to 120');
  assert.equal(typeof raw.task_reservation_timeout, 'number');
  assertUnset(wf.assignmentCallbackUrl, 'assignment_callback_url');
  assert.equal(wf.fallbackAssignmentCallbackUrl, null);
  assert.equal(wf.documentContentType, 'application/json');
  assert.equal(wf.url, `${baseUrl}/v1/Workspaces/${ws.sid}/Workflows/${wf.sid}`);
  const base = `${baseUrl}/v1/Workspaces/${ws.sid}/Workflows/${wf.sid}`;
  assert.equal(wf.links.statistics, `${base}/Statistics`);
  assert.equal(wf.links.real_time_statistics, `${base}/RealTimeStatistics`);
  assert.equal(wf.links.cumulative_statistics, `${base}/CumulativeStatistics`);
  assertWireDate(raw.date_created, 'date_created');
  assertWireDate(raw.date_updated, 'date_updated');
  assertRecentDate(wf.dateCreated);
  assertRecentDate(wf.dateUpdated);
});

test('create with callback URLs and TaskReservationTimeout; fetch returns the same', async () => {
  const { client } = ctx;
  const { tr, q1 } = await setup(client);
  const wf = await tr.workflows.create({
    friendlyName: uniq('wf'),
    configuration: JSON.stringify({ task_routing: { default_filter: { queue: q1.sid } } }),
    assignmentCallbackUrl: 'https://example.com/assign',
    fallbackAssignmentCallbackUrl: 'https://example.com/fallback',
    taskReservationTimeout: 300,
  });
  assert.equal(wf.assignmentCallbackUrl, 'https://example.com/assign');
  assert.equal(wf.fallbackAssignmentCallbackUrl, 'https://example.com/fallback');
  assert.equal(wf.taskReservationTimeout, 300);
  const f = await tr.workflows(wf.sid).fetch();
  assert.deepEqual(f.toJSON(), wf.toJSON());
});

test('numbers as strings in the configuration are accepted (official examples use both)', async () => {
  const { client } = ctx;
  const { tr, q1 } = await setup(client);
  const configuration = JSON.stringify({
    task_routing: {
      filters: [{ friendly_name: 'legacy label', expression: 'priority_customer == true', targets: [{ queue: q1.sid, priority: '10', timeout: '60' }, { queue: q1.sid }] }],
      default_filter: { queue: q1.sid },
    },
  });
  const wf = await tr.workflows.create({ friendlyName: uniq('wf'), configuration });
  assert.deepEqual(JSON.parse(wf.configuration), JSON.parse(configuration));
});

test('update configuration, friendly name, callbacks, timeout', async () => {
  const { client } = ctx;
  const { tr, q1, q2 } = await setup(client);
  const wf = await tr.workflows.create({
    friendlyName: uniq('wf'),
    configuration: JSON.stringify({ task_routing: { default_filter: { queue: q1.sid } } }),
  });
  const newConfig = JSON.stringify(multiStepConfig(q1, q2));
  const name = uniq('wf2');
  const { statusCode, body: u } = await tr.workflows(wf.sid).updateWithHttpInfo({
    friendlyName: name,
    configuration: newConfig,
    assignmentCallbackUrl: 'https://example.com/a2',
    fallbackAssignmentCallbackUrl: 'https://example.com/f2',
    taskReservationTimeout: 45,
    reEvaluateTasks: 'true',
  });
  assert.equal(statusCode, 200);
  assert.equal(u.friendlyName, name);
  assert.deepEqual(JSON.parse(u.configuration), JSON.parse(newConfig));
  assert.equal(u.assignmentCallbackUrl, 'https://example.com/a2');
  assert.equal(u.fallbackAssignmentCallbackUrl, 'https://example.com/f2');
  assert.equal(u.taskReservationTimeout, 45);
  const u2 = await tr.workflows(wf.sid).update({ taskReservationTimeout: 86400 });
  assert.equal(u2.taskReservationTimeout, 86400);
  assert.deepEqual(JSON.parse(u2.configuration), JSON.parse(newConfig), 'partial update keeps configuration');
  assert.equal(u2.friendlyName, name);
  assert.deepEqual((await tr.workflows(wf.sid).fetch()).toJSON(), u2.toJSON());
});

test('TaskReservationTimeout above 86400 is a 400', async () => {
  const { client } = ctx;
  const { tr, q1 } = await setup(client);
  const configuration = JSON.stringify({ task_routing: { default_filter: { queue: q1.sid } } });
  await expectRestError(tr.workflows.create({ friendlyName: uniq('wf'), configuration, taskReservationTimeout: 86401 }), { status: 400 });
  const wf = await tr.workflows.create({ friendlyName: uniq('wf'), configuration });
  await expectRestError(tr.workflows(wf.sid).update({ taskReservationTimeout: 86401 }), { status: 400 });
});

test('invalid configurations are rejected with 400 naming the problem', async () => {
  const { client } = ctx;
  const { tr, q1 } = await setup(client);
  const missingQueue = fakeSid('WQ');
  const cases = [
    ['not JSON', '{"task_routing": ', /json|configuration|pars|syntax/i],
    ['JSON but not an object', '[1,2,3]', /configuration|task_routing|object/i],
    ['unknown queue', JSON.stringify({ task_routing: { default_filter: { queue: missingQueue } } }), new RegExp(missingQueue)],
    ['bad filter expression', JSON.stringify({ task_routing: { filters: [{ expression: "type == ", targets: [{ queue: q1.sid }] }] } }), /expression|type ==|pars|syntax/i],
    ['first target without queue', JSON.stringify({ task_routing: { filters: [{ expression: '1==1', targets: [{ priority: 1 }] }] } }), /queue/i],
    ['non-positive step timeout', JSON.stringify({ task_routing: { filters: [{ expression: '1==1', targets: [{ queue: q1.sid, timeout: -5 }, { queue: q1.sid }] }] } }), /timeout/i],
    ['both known_worker_sid and known_worker_friendly_name', JSON.stringify({ task_routing: { filters: [{ expression: '1==1', targets: [{ queue: q1.sid, known_worker_sid: 'task.a', known_worker_friendly_name: 'task.b' }] }] } }), /known_worker/i],
    ['bad skip_if', JSON.stringify({ task_routing: { filters: [{ expression: '1==1', targets: [{ queue: q1.sid, skip_if: 'workers.available ==' }] }] } }), /skip_if|expression|pars|syntax/i],
    ['bad target expression', JSON.stringify({ task_routing: { filters: [{ expression: '1==1', targets: [{ queue: q1.sid, expression: 'worker.level >' }] }] } }), /expression|worker\.level|pars|syntax/i],
  ];
  for (const [what, configuration, message] of cases) {
    try {
      await expectRestError(tr.workflows.create({ friendlyName: uniq('bad'), configuration }), { status: 400, message });
    } catch (e) {
      e.message = `${what}: ${e.message}`;
      throw e;
    }
  }
  const wf = await tr.workflows.create({ friendlyName: uniq('ok'), configuration: JSON.stringify({ task_routing: { default_filter: { queue: q1.sid } } }) });
  await expectRestError(
    tr.workflows(wf.sid).update({ configuration: JSON.stringify({ task_routing: { default_filter: { queue: missingQueue } } }) }),
    { status: 400, message: new RegExp(missingQueue) },
  );
  assert.equal(JSON.parse((await tr.workflows(wf.sid).fetch()).configuration).task_routing.default_filter.queue, q1.sid, 'unchanged');
  assert.equal((await tr.workflows.list()).length, 1, 'failed creates created nothing');
});

test('a queue from another workspace is rejected in the configuration', async () => {
  const { client } = ctx;
  const { tr } = await setup(client);
  const other = await setup(client);
  await expectRestError(
    tr.workflows.create({ friendlyName: uniq('x'), configuration: JSON.stringify({ task_routing: { default_filter: { queue: other.q1.sid } } }) }),
    { status: 400, message: new RegExp(other.q1.sid) },
  );
});

test('list with FriendlyName filter', async () => {
  const { client } = ctx;
  const { tr, q1 } = await setup(client);
  const configuration = JSON.stringify({ task_routing: { default_filter: { queue: q1.sid } } });
  const a = await tr.workflows.create({ friendlyName: uniq('A'), configuration });
  const b = await tr.workflows.create({ friendlyName: uniq('B'), configuration });
  const all = await tr.workflows.list();
  assert.deepEqual(all.map((w) => w.sid).sort(), [a.sid, b.sid].sort());
  assert.equal(client.httpClient.last.body.meta.key, 'workflows');
  assert.deepEqual((await tr.workflows.list({ friendlyName: b.friendlyName })).map((w) => w.sid), [b.sid]);
  assert.deepEqual(await tr.workflows.list({ friendlyName: uniq('none') }), []);
});

test('delete: 204, then 404', async () => {
  const { client } = ctx;
  const { tr, q1 } = await setup(client);
  const wf = await tr.workflows.create({ friendlyName: uniq('wf'), configuration: JSON.stringify({ task_routing: { default_filter: { queue: q1.sid } } }) });
  const { statusCode, body } = await tr.workflows(wf.sid).removeWithHttpInfo();
  assert.equal(statusCode, 204);
  assert.equal(body, true);
  await expectRestError(tr.workflows(wf.sid).fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.workflows(wf.sid).remove(), { status: 404, code: 20404 });
});
