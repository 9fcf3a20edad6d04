import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useServer, uniq, sidPattern, fakeSid, expectRestError, assertWireDate, assertRecentDate, newWorkspace,
} from '../harness.mjs';

const ctx = useServer();

const unique = (p) => `${p}_${Math.random().toString(36).slice(2, 8)}`;

test('create a task channel: 201, fields, url and links', async () => {
  const { client, baseUrl, accountSid } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const uniqueName = unique('email');
  const { statusCode, body: c } = await tr.taskChannels.createWithHttpInfo({
    friendlyName: 'Email', uniqueName, channelOptimizedRouting: true,
  });
  assert.equal(statusCode, 201);
  const raw = client.httpClient.last.body;
  assert.match(c.sid, sidPattern('TC'));
  assert.equal(c.accountSid, accountSid);
  assert.equal(c.workspaceSid, ws.sid);
  assert.equal(c.friendlyName, 'Email');
  assert.equal(c.uniqueName, uniqueName);
  assert.equal(c.channelOptimizedRouting, true);
  assert.equal(c.url, `${baseUrl}/v1/Workspaces/${ws.sid}/TaskChannels/${c.sid}`);
  assert.deepEqual(c.links, { workspace: `${baseUrl}/v1/Workspaces/${ws.sid}` });
  assertWireDate(raw.date_created, 'date_created');
  assertWireDate(raw.date_updated, 'date_updated');
  assertRecentDate(c.dateCreated);
  assertRecentDate(c.dateUpdated);

  const c2 = await tr.taskChannels.create({ friendlyName: 'Fax', uniqueName: unique('fax'), channelOptimizedRouting: false });
  assert.equal(c2.channelOptimizedRouting, false);
  assert.equal(typeof (await tr.taskChannels.create({ friendlyName: 'X', uniqueName: unique('x') })).channelOptimizedRouting, 'boolean');
});

test('fetch by SID and by unique name', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const c = await tr.taskChannels.create({ friendlyName: 'Social', uniqueName: unique('social') });
  const bySid = await tr.taskChannels(c.sid).fetch();
  const byName = await tr.taskChannels(c.uniqueName).fetch();
  assert.deepEqual(bySid.toJSON(), c.toJSON());
  assert.deepEqual(byName.toJSON(), c.toJSON());

  const voice = await tr.taskChannels('voice').fetch();
  assert.equal(voice.uniqueName, 'voice');
  assert.match(voice.sid, sidPattern('TC'));
  await expectRestError(tr.taskChannels('no_such_channel').fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.taskChannels(fakeSid('TC')).fetch(), { status: 404, code: 20404 });
});

test('update FriendlyName and ChannelOptimizedRouting (by SID and by unique name)', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const c = await tr.taskChannels.create({ friendlyName: 'Chat2', uniqueName: unique('chat2'), channelOptimizedRouting: false });
  const { statusCode, body: u } = await tr.taskChannels(c.sid).updateWithHttpInfo({ friendlyName: 'Chat Two', channelOptimizedRouting: true });
  assert.equal(statusCode, 200);
  assert.equal(u.friendlyName, 'Chat Two');
  assert.equal(u.channelOptimizedRouting, true);
  assert.equal(u.uniqueName, c.uniqueName, 'unique name is not changed');
  const u2 = await tr.taskChannels(c.uniqueName).update({ friendlyName: 'Chat 2' });
  assert.equal(u2.sid, c.sid);
  assert.equal(u2.friendlyName, 'Chat 2');
  assert.equal(u2.channelOptimizedRouting, true);
  assert.equal((await tr.taskChannels(c.sid).fetch()).friendlyName, 'Chat 2');
});

test('unique names are unique per workspace', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  await expectRestError(tr.taskChannels.create({ friendlyName: 'Voice again', uniqueName: 'voice' }), { status: 400, code: 20001 });
  const name = unique('dup');
  await tr.taskChannels.create({ friendlyName: 'one', uniqueName: name });
  await expectRestError(tr.taskChannels.create({ friendlyName: 'two', uniqueName: name }), { status: 400, code: 20001 });
});

test('list returns defaults plus created channels, with meta.key "channels"', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const c = await tr.taskChannels.create({ friendlyName: 'Email', uniqueName: unique('email') });
  const list = await tr.taskChannels.list();
  assert.deepEqual(list.map((x) => x.uniqueName).sort(), ['chat', 'default', 'sms', 'video', 'voice', c.uniqueName].sort());
  assert.equal(client.httpClient.last.body.meta.key, 'channels');
  const page = await tr.taskChannels.page({ pageSize: 50 });
  assert.equal(page.instances.length, 6);
  assert.equal(page.nextPageUrl, undefined);
});

test('delete by SID: 204, then 404', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const c = await tr.taskChannels.create({ friendlyName: 'Temp', uniqueName: unique('temp') });
  const { statusCode, body } = await tr.taskChannels(c.sid).removeWithHttpInfo();
  assert.equal(statusCode, 204);
  assert.equal(body, true);
  await expectRestError(tr.taskChannels(c.sid).fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.taskChannels(c.uniqueName).fetch(), { status: 404, code: 20404 });
  assert.ok(!(await tr.taskChannels.list()).some((x) => x.sid === c.sid));
});

test('delete by unique name', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const c = await tr.taskChannels.create({ friendlyName: 'Temp', uniqueName: unique('temp') });
  assert.equal(await tr.taskChannels(c.uniqueName).remove(), true);
  await expectRestError(tr.taskChannels(c.sid).fetch(), { status: 404, code: 20404 });
});

test('UniqueName rules: letters, digits, _ and $, not starting with a digit', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  for (const bad of ['bad-name', '1abc', 'has space', '']) {
    await expectRestError(tr.taskChannels.create({ friendlyName: 'x', uniqueName: bad }), { status: 400 });
  }
  const ok = await tr.taskChannels.create({ friendlyName: 'x', uniqueName: 'a$b_c9' });
  assert.equal(ok.uniqueName, 'a$b_c9');
});
