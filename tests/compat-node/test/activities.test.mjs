import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useServer, uniq, sidPattern, fakeSid, expectRestError, assertWireDate, assertRecentDate, newWorkspace,
} from '../harness.mjs';

const ctx = useServer();

test('create an activity: 201, fields, url and links', async () => {
  const { client, baseUrl, accountSid } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const name = uniq('Lunch');
  const { statusCode, body: a } = await tr.activities.createWithHttpInfo({ friendlyName: name, available: false });
  assert.equal(statusCode, 201);
  const raw = client.httpClient.last.body;
  assert.match(a.sid, sidPattern('WA'));
  assert.equal(a.accountSid, accountSid);
  assert.equal(a.workspaceSid, ws.sid);
  assert.equal(a.friendlyName, name);
  assert.equal(a.available, false);
  assert.equal(a.url, `${baseUrl}/v1/Workspaces/${ws.sid}/Activities/${a.sid}`);
  assert.deepEqual(a.links, { workspace: `${baseUrl}/v1/Workspaces/${ws.sid}` });
  assertWireDate(raw.date_created, 'date_created');
  assertWireDate(raw.date_updated, 'date_updated');
  assertRecentDate(a.dateCreated);
  assertRecentDate(a.dateUpdated);

  const on = await tr.activities.create({ friendlyName: uniq('OnCall'), available: true });
  assert.equal(on.available, true);
});

test("Available accepts 'true', '1', 'yes' as true and anything else as false", async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  // Spec (CreateActivityRequest.Available): "A value of true, 1, or yes specifies the Activity is
  // available. All other values specify that it is not." serialize.bool() passes strings through.
  for (const [v, expected] of [['true', true], ['1', true], ['yes', true], ['false', false], ['no', false], ['0', false]]) {
    const a = await tr.activities.create({ friendlyName: uniq(`A${v}`), available: v });
    assert.equal(a.available, expected, `Available=${v}`);
  }
});

test('fetch and update FriendlyName', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const a = await tr.activities.create({ friendlyName: uniq('Training'), available: true });
  const f = await tr.activities(a.sid).fetch();
  assert.deepEqual(f.toJSON(), a.toJSON());
  const name = uniq('Coaching');
  const { statusCode, body: u } = await tr.activities(a.sid).updateWithHttpInfo({ friendlyName: name });
  assert.equal(statusCode, 200);
  assert.equal(u.friendlyName, name);
  assert.equal(u.available, true);
  assert.equal((await tr.activities(a.sid).fetch()).friendlyName, name);
});

test('Available is immutable: an update cannot change it', async () => {
  const { client, raw } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const a = await tr.activities.create({ friendlyName: uniq('Busy'), available: true });
  // The SDK's update() has no `available` parameter at all (spec UpdateActivityRequest: FriendlyName only);
  // send it raw to check the server does not honour it.
  const res = await raw('POST', `/v1/Workspaces/${ws.sid}/Activities/${a.sid}`, { form: { Available: 'false' } });
  assert.ok(res.status === 200 || res.status === 400, `expected 200 (ignored) or 400, got ${res.status} ${res.text}`);
  const f = await tr.activities(a.sid).fetch();
  assert.equal(f.available, true, 'available is unchanged');
});

test('list with Available filter (true / 1 / yes / false)', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const extra = await tr.activities.create({ friendlyName: uniq('Wrapup'), available: true });
  const names = (list) => list.map((a) => a.friendlyName).sort();

  const avail = await tr.activities.list({ available: 'true' });
  assert.deepEqual(names(avail), ['Available', extra.friendlyName].sort());
  assert.deepEqual(names(await tr.activities.list({ available: '1' })), names(avail));
  assert.deepEqual(names(await tr.activities.list({ available: 'yes' })), names(avail));
  assert.deepEqual(names(await tr.activities.list({ available: 'false' })), ['Offline', 'Unavailable']);
  assert.equal(client.httpClient.last.body.meta.key, 'activities');
});

test('list with FriendlyName filter', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const list = await tr.activities.list({ friendlyName: 'Unavailable' });
  assert.deepEqual(list.map((a) => a.sid), [act.Unavailable.sid]);
  assert.deepEqual(await tr.activities.list({ friendlyName: uniq('none') }), []);
});

test('friendly names are unique within a workspace', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  await expectRestError(tr.activities.create({ friendlyName: 'Available', available: true }), { status: 400, code: 20001 });
  const a = await tr.activities.create({ friendlyName: uniq('Dup') });
  await expectRestError(tr.activities.create({ friendlyName: a.friendlyName }), { status: 400, code: 20001 });
  // Renaming onto an existing name is rejected too.
  await expectRestError(tr.activities(a.sid).update({ friendlyName: 'Offline' }), { status: 400, code: 20001 });
  // The same name in another workspace is fine.
  const { tr: tr2 } = await newWorkspace(client);
  const b = await tr2.activities.create({ friendlyName: a.friendlyName });
  assert.equal(b.friendlyName, a.friendlyName);
});

test('deleting the default activity fails with 400 / 20001', async () => {
  const { client } = ctx;
  const { ws, act, tr } = await newWorkspace(client);
  assert.equal(ws.defaultActivitySid, act.Offline.sid);
  await expectRestError(tr.activities(act.Offline.sid).remove(), { status: 400, code: 20001 });
  const still = await tr.activities(act.Offline.sid).fetch();
  assert.equal(still.sid, act.Offline.sid);
});

test('delete: 204 and then 404', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const a = await tr.activities.create({ friendlyName: uniq('Temp') });
  const { statusCode, body } = await tr.activities(a.sid).removeWithHttpInfo();
  assert.equal(statusCode, 204);
  assert.equal(body, true);
  await expectRestError(tr.activities(a.sid).fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.activities(fakeSid('WA')).remove(), { status: 404, code: 20404 });
  const names = (await tr.activities.list()).map((x) => x.friendlyName).sort();
  assert.deepEqual(names, ['Available', 'Offline', 'Unavailable']);
});
