// Wire field names: the server's snake_case JSON must carry every property of the
// spec's response schema (components.schemas in twilio_taskrouter_v1.json), and the
// SDK's camelCase instance properties are exactly those fields camel-cased. A field
// the server leaves out shows up as `undefined` on the SDK instance (not `null`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, uniq, newWorkspace, camel, assertWireDate } from '../harness.mjs';

const ctx = useServer();

// From components.schemas of the spec (twilio_taskrouter_v1.json).
const SPEC_FIELDS = {
  workspace: ['account_sid', 'date_created', 'date_updated', 'default_activity_name', 'default_activity_sid', 'event_callback_url', 'events_filter', 'friendly_name', 'multi_task_enabled', 'sid', 'timeout_activity_name', 'timeout_activity_sid', 'prioritize_queue_order', 'url', 'links'],
  activity: ['account_sid', 'available', 'date_created', 'date_updated', 'friendly_name', 'sid', 'workspace_sid', 'url', 'links'],
  task_channel: ['account_sid', 'date_created', 'date_updated', 'friendly_name', 'sid', 'unique_name', 'workspace_sid', 'channel_optimized_routing', 'url', 'links'],
  worker: ['account_sid', 'activity_name', 'activity_sid', 'attributes', 'available', 'date_created', 'date_status_changed', 'date_updated', 'friendly_name', 'sid', 'workspace_sid', 'url', 'links'],
  worker_channel: ['account_sid', 'assigned_tasks', 'available', 'available_capacity_percentage', 'configured_capacity', 'date_created', 'date_updated', 'sid', 'task_channel_sid', 'task_channel_unique_name', 'worker_sid', 'workspace_sid', 'url'],
  task_queue: ['account_sid', 'assignment_activity_sid', 'assignment_activity_name', 'date_created', 'date_updated', 'friendly_name', 'max_reserved_workers', 'reservation_activity_sid', 'reservation_activity_name', 'sid', 'target_workers', 'task_order', 'url', 'workspace_sid', 'links'],
  workflow: ['account_sid', 'assignment_callback_url', 'configuration', 'date_created', 'date_updated', 'document_content_type', 'fallback_assignment_callback_url', 'friendly_name', 'sid', 'task_reservation_timeout', 'workspace_sid', 'url', 'links'],
};

function check(kind, instance, rawJson) {
  const fields = SPEC_FIELDS[kind];
  const missing = fields.filter((f) => !(f in rawJson));
  assert.deepEqual(missing, [], `${kind}: spec fields missing from the server's JSON`);
  const extra = Object.keys(rawJson).filter((k) => !fields.includes(k));
  // Extra fields are harmless for the SDK, but should not be misspellings of spec fields.
  for (const k of extra) {
    assert.ok(!fields.some((f) => f.replace(/_/g, '') === k.replace(/_/g, '').toLowerCase()), `${kind}: field ${k} looks like a misspelt spec field`);
  }
  assert.deepEqual(Object.keys(instance.toJSON()).sort(), fields.map(camel).sort(), `${kind}: SDK properties are the camel-cased spec fields`);
  for (const f of fields) {
    assert.notEqual(instance[camel(f)], undefined, `${kind}.${camel(f)} is undefined on the SDK instance`);
    if (f.startsWith('date_')) {
      assertWireDate(rawJson[f], `${kind}.${f}`);
      assert.ok(instance[camel(f)] instanceof Date, `${kind}.${camel(f)} is a Date`);
    }
  }
  for (const f of fields.filter((x) => x.endsWith('_sid') || x === 'sid')) {
    if (rawJson[f] !== null) assert.match(rawJson[f], /^[A-Z]{2}[0-9a-f]{32}$/, `${kind}.${f}`);
  }
}

test('every resource carries exactly the spec fields (create, fetch, list, update)', async () => {
  const { client } = ctx;
  const http = client.httpClient;
  const ws = await client.taskrouter.v1.workspaces.create({ friendlyName: uniq('ws') });
  check('workspace', ws, http.last.body);
  const wsF = await client.taskrouter.v1.workspaces(ws.sid).fetch();
  check('workspace', wsF, http.last.body);
  const [wsL] = await client.taskrouter.v1.workspaces.list({ friendlyName: ws.friendlyName });
  check('workspace', wsL, http.last.body.workspaces[0]);

  const tr = client.taskrouter.v1.workspaces(ws.sid);
  const a = await tr.activities.create({ friendlyName: uniq('a'), available: true });
  check('activity', a, http.last.body);
  const [aL] = await tr.activities.list({ friendlyName: a.friendlyName });
  check('activity', aL, http.last.body.activities[0]);

  const c = await tr.taskChannels.create({ friendlyName: 'Email', uniqueName: 'email' });
  check('task_channel', c, http.last.body);
  const cF = await tr.taskChannels('email').fetch();
  check('task_channel', cF, http.last.body);

  const w = await tr.workers.create({ friendlyName: uniq('w'), attributes: '{"x":1}' });
  check('worker', w, http.last.body);
  const wU = await tr.workers(w.sid).update({ activitySid: a.sid });
  check('worker', wU, http.last.body);
  const [wL] = await tr.workers.list();
  check('worker', wL, http.last.body.workers[0]);

  const [wc] = await tr.workers(w.sid).workerChannels.list();
  check('worker_channel', wc, http.last.body.channels[0]);
  const wcU = await tr.workers(w.sid).workerChannels(wc.sid).update({ capacity: 2 });
  check('worker_channel', wcU, http.last.body);

  const q = await tr.taskQueues.create({ friendlyName: uniq('q'), reservationActivitySid: a.sid, assignmentActivitySid: a.sid });
  check('task_queue', q, http.last.body);
  const [qL] = await tr.taskQueues.list();
  check('task_queue', qL, http.last.body.task_queues[0]);

  const wf = await tr.workflows.create({
    friendlyName: uniq('wf'),
    configuration: JSON.stringify({ task_routing: { default_filter: { queue: q.sid } } }),
    assignmentCallbackUrl: 'https://example.com/a',
    fallbackAssignmentCallbackUrl: 'https://example.com/f',
  });
  check('workflow', wf, http.last.body);
  const [wfL] = await tr.workflows.list();
  check('workflow', wfL, http.last.body.workflows[0]);
});

test('responses are JSON with the right status codes', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const created = await tr.workers.createWithHttpInfo({ friendlyName: uniq('w') });
  assert.equal(created.statusCode, 201);
  assert.match(String(created.headers['content-type']), /^application\/json/);
  const fetched = await tr.workers(created.body.sid).fetchWithHttpInfo();
  assert.equal(fetched.statusCode, 200);
  assert.match(String(fetched.headers['content-type']), /^application\/json/);
  const updated = await tr.workers(created.body.sid).updateWithHttpInfo({ attributes: '{}' });
  assert.equal(updated.statusCode, 200);
  const removed = await tr.workers(created.body.sid).removeWithHttpInfo();
  assert.equal(removed.statusCode, 204);
});

test('form and query encoding: "+" and %20 are spaces, UTF-8 round-trips', async () => {
  const { client, raw } = ctx;
  const { ws, tr } = await newWorkspace(client);
  // twilio-node (qs) encodes spaces as %20; other official clients (python requests) send "+".
  const res = await fetch(`${ctx.baseUrl}/v1/Workspaces/${ws.sid}/Workers`, {
    method: 'POST',
    headers: {
      Authorization: 'Basic ' + Buffer.from(`${ctx.accountSid}:${ctx.authToken}`).toString('base64'),
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json',
    },
    body: 'FriendlyName=Plus+Sign+Name&Attributes=%7B%22a%22%3A%22x+y%22%7D',
  });
  assert.equal(res.status, 201);
  const created = await res.json();
  assert.equal(created.friendly_name, 'Plus Sign Name');
  assert.deepEqual(JSON.parse(created.attributes), { a: 'x y' });
  const url = `${ctx.baseUrl}/v1/Workspaces/${ws.sid}/Workers?FriendlyName=Plus+Sign+Name`;
  const listed = await raw('GET', new URL(url).pathname + new URL(url).search);
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.json.workers.map((w) => w.sid), [created.sid], 'query "+" decodes to a space');

  const name = 'Zoë Ångström 🚀';
  const w = await tr.workers.create({ friendlyName: name, attributes: JSON.stringify({ city: 'São Paulo' }) });
  assert.equal(w.friendlyName, name);
  assert.deepEqual(JSON.parse(w.attributes), { city: 'São Paulo' });
  assert.deepEqual((await tr.workers.list({ friendlyName: name })).map((x) => x.sid), [w.sid]);
});
