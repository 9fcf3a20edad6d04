import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  useServer, uniq, sidPattern, fakeSid, expectRestError, assertWireDate, assertRecentDate, newWorkspace,
} from '../harness.mjs';

const ctx = useServer();

const sids = (list) => list.map((x) => x.sid).sort();

function workerLinks(baseUrl, ws, wk, activitySid) {
  const w = `${baseUrl}/v1/Workspaces/${ws}`;
  return {
    channels: `${w}/Workers/${wk}/Channels`,
    activity: `${w}/Activities/${activitySid}`,
    workspace: w,
    statistics: `${w}/Workers/Statistics`,
    real_time_statistics: `${w}/Workers/RealTimeStatistics`,
    cumulative_statistics: `${w}/Workers/CumulativeStatistics`,
    worker_statistics: `${w}/Workers/${wk}/Statistics`,
    worker_channels: `${w}/Workers/${wk}/Channels`,
    reservations: `${w}/Workers/${wk}/Reservations`,
  };
}

test('create a worker: 201, defaults to the workspace default activity, wire format', async () => {
  const { client, baseUrl, accountSid } = ctx;
  const { ws, act, tr } = await newWorkspace(client);
  const name = uniq('alice');
  const { statusCode, body: w } = await tr.workers.createWithHttpInfo({ friendlyName: name });
  assert.equal(statusCode, 201);
  const raw = client.httpClient.last.body;
  assert.match(w.sid, sidPattern('WK'));
  assert.equal(w.accountSid, accountSid);
  assert.equal(w.workspaceSid, ws.sid);
  assert.equal(w.friendlyName, name);
  assert.equal(w.activitySid, act.Offline.sid);
  assert.equal(w.activityName, 'Offline');
  assert.equal(w.available, false);
  assert.equal(w.attributes, '{}', 'Attributes defaults to {}');
  assert.equal(w.url, `${baseUrl}/v1/Workspaces/${ws.sid}/Workers/${w.sid}`);
  assert.deepEqual(w.links, workerLinks(baseUrl, ws.sid, w.sid, act.Offline.sid));
  for (const f of ['date_created', 'date_updated', 'date_status_changed']) assertWireDate(raw[f], f);
  assertRecentDate(w.dateCreated, 'dateCreated');
  assertRecentDate(w.dateUpdated, 'dateUpdated');
  assertRecentDate(w.dateStatusChanged, 'dateStatusChanged');
});

test('create with ActivitySid and Attributes; attributes round-trip as a JSON string', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const attrs = { skills: ['support', 'sales'], languages: { en: 10, es: 7 }, level: 3, contact_uri: 'client:bob', vip: true, note: 'ünïcode ✓' };
  const attributes = JSON.stringify(attrs);
  const w = await tr.workers.create({ friendlyName: uniq('bob'), activitySid: act.Available.sid, attributes });
  assert.equal(w.activitySid, act.Available.sid);
  assert.equal(w.activityName, 'Available');
  assert.equal(w.available, true);
  assert.equal(typeof w.attributes, 'string', 'attributes is a JSON string, not an object');
  assert.deepEqual(JSON.parse(w.attributes), attrs);
  const f = await tr.workers(w.sid).fetch();
  assert.equal(typeof f.attributes, 'string');
  assert.deepEqual(JSON.parse(f.attributes), attrs);
  assert.deepEqual(f.toJSON(), w.toJSON(), 'fetch returns what create returned');
});

test('fetch, update activity / attributes / friendly name; date_status_changed tracks activity changes', async () => {
  const { client, baseUrl } = ctx;
  const { ws, act, tr } = await newWorkspace(client);
  const w = await tr.workers.create({ friendlyName: uniq('carol'), attributes: '{"a":1}' });
  await sleep(1100); // timestamps have second precision

  const { statusCode, body: u } = await tr.workers(w.sid).updateWithHttpInfo({ activitySid: act.Available.sid });
  assert.equal(statusCode, 200);
  assert.equal(u.activitySid, act.Available.sid);
  assert.equal(u.activityName, 'Available');
  assert.equal(u.available, true);
  assert.equal(u.links.activity, `${baseUrl}/v1/Workspaces/${ws.sid}/Activities/${act.Available.sid}`);
  assert.ok(u.dateStatusChanged > w.dateStatusChanged, 'date_status_changed moves on an activity change');
  assert.ok(u.dateUpdated > w.dateUpdated, 'date_updated moves');
  assert.deepEqual(JSON.parse(u.attributes), { a: 1 }, 'attributes unchanged');
  await sleep(1100);

  const newName = uniq('caroline');
  const u2 = await tr.workers(w.sid).update({ attributes: '{"a":2,"b":[1,2]}', friendlyName: newName });
  assert.deepEqual(JSON.parse(u2.attributes), { a: 2, b: [1, 2] });
  assert.equal(u2.friendlyName, newName);
  assert.equal(u2.activitySid, act.Available.sid, 'activity unchanged');
  assert.equal(u2.dateStatusChanged.getTime(), u.dateStatusChanged.getTime(), 'date_status_changed only moves on activity changes');
  assert.ok(u2.dateUpdated > u.dateUpdated);
  assert.equal(u2.dateCreated.getTime(), w.dateCreated.getTime());

  const f = await tr.workers(w.sid).fetch();
  assert.deepEqual(f.toJSON(), u2.toJSON());

  await tr.workers(w.sid).update({ activitySid: act.Unavailable.sid });
  const f2 = await tr.workers(w.sid).fetch();
  assert.equal(f2.activityName, 'Unavailable');
  assert.equal(f2.available, false);
});

test('update with an unknown ActivitySid is rejected with 400', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const w = await tr.workers.create({ friendlyName: uniq('dave') });
  await expectRestError(tr.workers(w.sid).update({ activitySid: fakeSid('WA') }), { status: 400 });
  await expectRestError(tr.workers.create({ friendlyName: uniq('eve'), activitySid: fakeSid('WA') }), { status: 400 });
});

test('friendly names are unique per workspace, case-insensitively', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const name = uniq('Frank');
  const w = await tr.workers.create({ friendlyName: name });
  await expectRestError(tr.workers.create({ friendlyName: name }), { status: 400, code: 20001 });
  await expectRestError(tr.workers.create({ friendlyName: name.toUpperCase() }), { status: 400, code: 20001 });
  await expectRestError(tr.workers.create({ friendlyName: name.toLowerCase() }), { status: 400, code: 20001 });
  const other = await tr.workers.create({ friendlyName: uniq('Grace') });
  await expectRestError(tr.workers(other.sid).update({ friendlyName: name.toUpperCase() }), { status: 400, code: 20001 });
  // Renaming a worker to a different case of its own name is fine.
  const same = await tr.workers(w.sid).update({ friendlyName: name.toUpperCase() });
  assert.equal(same.friendlyName, name.toUpperCase());
  // Same name in another workspace is fine.
  const { tr: tr2 } = await newWorkspace(client);
  assert.equal((await tr2.workers.create({ friendlyName: name })).friendlyName, name);
});

test('attributes must be a JSON object', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  for (const bad of ['[1,2]', '"a string"', '42', 'true', 'null', '{not json']) {
    await expectRestError(tr.workers.create({ friendlyName: uniq('h'), attributes: bad }), { status: 400 });
  }
  const w = await tr.workers.create({ friendlyName: uniq('ivan'), attributes: '{"ok":true}' });
  for (const bad of ['[1,2]', '"s"', '{oops']) {
    await expectRestError(tr.workers(w.sid).update({ attributes: bad }), { status: 400 });
  }
  assert.deepEqual(JSON.parse((await tr.workers(w.sid).fetch()).attributes), { ok: true }, 'unchanged after failed updates');
  assert.equal((await tr.workers.list()).length, 1, 'failed creates created nothing');
});

test('worker list filters', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const qEs = await tr.taskQueues.create({ friendlyName: uniq('spanish'), targetWorkers: "language == 'es'" });
  const qVip = await tr.taskQueues.create({ friendlyName: uniq('vip'), targetWorkers: 'level >= 3' });
  const w1 = await tr.workers.create({ friendlyName: uniq('w1'), activitySid: act.Available.sid, attributes: JSON.stringify({ language: 'es', level: 3 }) });
  const w2 = await tr.workers.create({ friendlyName: uniq('w2'), attributes: JSON.stringify({ language: 'en', level: 1 }) });
  const w3 = await tr.workers.create({ friendlyName: uniq('w3'), activitySid: act.Unavailable.sid, attributes: JSON.stringify({ language: 'es', level: 1 }) });

  assert.deepEqual(sids(await tr.workers.list()), sids([w1, w2, w3]));
  assert.equal(client.httpClient.last.body.meta.key, 'workers');

  assert.deepEqual(sids(await tr.workers.list({ activityName: 'Available' })), [w1.sid], 'ActivityName');
  assert.deepEqual(sids(await tr.workers.list({ activitySid: act.Offline.sid })), [w2.sid], 'ActivitySid');
  assert.deepEqual(sids(await tr.workers.list({ available: 'true' })), [w1.sid], 'Available=true');
  assert.deepEqual(sids(await tr.workers.list({ available: '1' })), [w1.sid], 'Available=1');
  assert.deepEqual(sids(await tr.workers.list({ available: 'false' })), sids([w2, w3]), 'Available=false');
  assert.deepEqual(sids(await tr.workers.list({ friendlyName: w2.friendlyName })), [w2.sid], 'FriendlyName');
  assert.deepEqual(sids(await tr.workers.list({ targetWorkersExpression: 'level > 2' })), [w1.sid], 'TargetWorkersExpression level > 2');
  assert.deepEqual(sids(await tr.workers.list({ targetWorkersExpression: "language == 'es'" })), sids([w1, w3]), 'TargetWorkersExpression language');
  assert.deepEqual(sids(await tr.workers.list({ taskQueueSid: qEs.sid })), sids([w1, w3]), 'TaskQueueSid');
  assert.deepEqual(sids(await tr.workers.list({ taskQueueName: qEs.friendlyName })), sids([w1, w3]), 'TaskQueueName');
  assert.deepEqual(sids(await tr.workers.list({ taskQueueSid: qVip.sid })), [w1.sid], 'TaskQueueSid (vip)');
  assert.deepEqual(sids(await tr.workers.list({ activityName: 'Unavailable', targetWorkersExpression: "language == 'es'" })), [w3.sid], 'combined filters');
  assert.deepEqual(await tr.workers.list({ friendlyName: uniq('nobody') }), []);
});

test('TargetWorkersExpression can use worker fields (activity_name, friendly_name)', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const w1 = await tr.workers.create({ friendlyName: uniq('x1'), activitySid: act.Available.sid });
  const w2 = await tr.workers.create({ friendlyName: uniq('x2') });
  assert.deepEqual(sids(await tr.workers.list({ targetWorkersExpression: "activity_name == 'Available'" })), [w1.sid]);
  assert.deepEqual(sids(await tr.workers.list({ targetWorkersExpression: `friendly_name == '${w2.friendlyName}'` })), [w2.sid]);
});

test('an invalid TargetWorkersExpression is a 400', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  await expectRestError(tr.workers.list({ targetWorkersExpression: 'level >' }), { status: 400 });
});

test('ETag / If-Match on worker update', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const w = await tr.workers.create({ friendlyName: uniq('etag') });
  const fetched = await tr.workers(w.sid).fetchWithHttpInfo();
  const etag = fetched.headers.etag;
  assert.ok(etag !== undefined && etag !== '', `worker fetch should return an ETag header (spec), headers: ${JSON.stringify(fetched.headers)}`);

  const ok = await tr.workers(w.sid).updateWithHttpInfo({ activitySid: act.Available.sid, ifMatch: etag });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.body.activitySid, act.Available.sid);
  const newEtag = ok.headers.etag;
  assert.ok(newEtag !== undefined, 'update returns an ETag header');
  assert.notEqual(newEtag, etag, 'ETag changes when the worker changes');

  await expectRestError(tr.workers(w.sid).update({ activitySid: act.Offline.sid, ifMatch: etag }), { status: 412, code: 20412 });
  assert.equal((await tr.workers(w.sid).fetch()).activitySid, act.Available.sid, 'stale If-Match did not apply');
  await expectRestError(tr.workers(w.sid).remove({ ifMatch: etag }), { status: 412, code: 20412 });
  assert.equal(await tr.workers(w.sid).remove({ ifMatch: newEtag }), true);
});

test('delete a worker: 204, then 404 for it and its channels', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const w = await tr.workers.create({ friendlyName: uniq('temp') });
  const { statusCode, body } = await tr.workers(w.sid).removeWithHttpInfo();
  assert.equal(statusCode, 204);
  assert.equal(body, true);
  await expectRestError(tr.workers(w.sid).fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.workers(w.sid).workerChannels.list(), { status: 404, code: 20404 });
  await expectRestError(tr.workers(w.sid).remove(), { status: 404, code: 20404 });
  // The friendly name is free again.
  const again = await tr.workers.create({ friendlyName: w.friendlyName });
  assert.equal(again.friendlyName, w.friendlyName);
});

// ------------------------------------------------------------ worker channels

test('worker channels: one per task channel, with the spec fields', async () => {
  const { client, baseUrl, accountSid } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const taskChannels = await tr.taskChannels.list();
  const w = await tr.workers.create({ friendlyName: uniq('wc') });
  const channels = await tr.workers(w.sid).workerChannels.list();
  assert.equal(client.httpClient.last.body.meta.key, 'channels');
  const raw = client.httpClient.last.body.channels;
  assert.equal(channels.length, taskChannels.length);
  assert.deepEqual(channels.map((c) => c.taskChannelUniqueName).sort(), ['chat', 'default', 'sms', 'video', 'voice']);
  const tcByName = Object.fromEntries(taskChannels.map((c) => [c.uniqueName, c.sid]));
  for (const [i, c] of channels.entries()) {
    assert.match(c.sid, sidPattern('WC'));
    assert.equal(c.accountSid, accountSid);
    assert.equal(c.workspaceSid, ws.sid);
    assert.equal(c.workerSid, w.sid);
    assert.equal(c.taskChannelSid, tcByName[c.taskChannelUniqueName]);
    assert.equal(c.configuredCapacity, 1);
    assert.equal(c.assignedTasks, 0);
    assert.equal(c.available, true);
    assert.equal(c.availableCapacityPercentage, 100);
    assert.equal(c.url, `${baseUrl}/v1/Workspaces/${ws.sid}/Workers/${w.sid}/Channels/${c.sid}`);
    assertWireDate(raw[i].date_created, 'date_created');
    assertWireDate(raw[i].date_updated, 'date_updated');
    assertRecentDate(c.dateCreated);
    for (const k of ['configured_capacity', 'assigned_tasks', 'available_capacity_percentage']) {
      assert.equal(typeof raw[i][k], 'number', `${k} is a JSON integer`);
    }
  }
  assert.equal(new Set(channels.map((c) => c.sid)).size, channels.length, 'distinct WC sids');
});

test('worker channels exist for custom task channels (created before and after the worker)', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const before = await tr.taskChannels.create({ friendlyName: 'Email', uniqueName: 'email' });
  const w = await tr.workers.create({ friendlyName: uniq('wc') });
  const after = await tr.taskChannels.create({ friendlyName: 'Fax', uniqueName: 'fax' });
  const channels = await tr.workers(w.sid).workerChannels.list();
  const byName = Object.fromEntries(channels.map((c) => [c.taskChannelUniqueName, c]));
  assert.deepEqual(Object.keys(byName).sort(), ['chat', 'default', 'email', 'fax', 'sms', 'video', 'voice']);
  assert.equal(byName.email.taskChannelSid, before.sid);
  assert.equal(byName.fax.taskChannelSid, after.sid);
});

test('worker channel fetch and update Capacity / Available', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const w = await tr.workers.create({ friendlyName: uniq('wc') });
  const channels = await tr.workers(w.sid).workerChannels.list();
  const voice = channels.find((c) => c.taskChannelUniqueName === 'voice');
  const chat = channels.find((c) => c.taskChannelUniqueName === 'chat');

  const f = await tr.workers(w.sid).workerChannels(voice.sid).fetch();
  assert.deepEqual(f.toJSON(), voice.toJSON());

  const { statusCode, body: u } = await tr.workers(w.sid).workerChannels(chat.sid).updateWithHttpInfo({ capacity: 3 });
  assert.equal(statusCode, 200);
  assert.equal(u.sid, chat.sid);
  assert.equal(u.configuredCapacity, 3);
  assert.equal(u.available, true);
  assert.equal(u.availableCapacityPercentage, 100);
  assert.equal(u.assignedTasks, 0);

  const u2 = await tr.workers(w.sid).workerChannels(chat.sid).update({ available: false });
  assert.equal(u2.available, false);
  assert.equal(u2.configuredCapacity, 3, 'Available=false keeps the configured capacity');

  const u3 = await tr.workers(w.sid).workerChannels(chat.sid).update({ available: true, capacity: 0 });
  assert.equal(u3.available, true);
  assert.equal(u3.configuredCapacity, 0);

  const refetched = await tr.workers(w.sid).workerChannels(chat.sid).fetch();
  assert.equal(refetched.configuredCapacity, 0);
  assert.equal(refetched.available, true);
  // Other channels untouched.
  const voiceAgain = await tr.workers(w.sid).workerChannels(voice.sid).fetch();
  assert.equal(voiceAgain.configuredCapacity, 1);
  assert.equal(voiceAgain.available, true);
});

test('worker channel errors: negative capacity 400, unknown channel 404', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const w = await tr.workers.create({ friendlyName: uniq('wc') });
  const [c] = await tr.workers(w.sid).workerChannels.list();
  await expectRestError(tr.workers(w.sid).workerChannels(c.sid).update({ capacity: -1 }), { status: 400 });
  await expectRestError(tr.workers(w.sid).workerChannels(fakeSid('WC')).fetch(), { status: 404, code: 20404 });
  const other = await tr.workers.create({ friendlyName: uniq('wc2') });
  await expectRestError(tr.workers(other.sid).workerChannels(c.sid).fetch(), { status: 404, code: 20404 });
});

test('attributes are limited to 4096 characters', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const at = (n) => JSON.stringify({ x: 'y'.repeat(n - 8) }); // {"x":"…"} is n characters
  assert.equal(at(4096).length, 4096);
  const w = await tr.workers.create({ friendlyName: uniq('big'), attributes: at(4096) });
  assert.equal(w.attributes.length, 4096);
  await expectRestError(tr.workers.create({ friendlyName: uniq('big'), attributes: at(4097) }), { status: 400 });
  await expectRestError(tr.workers(w.sid).update({ attributes: at(5000) }), { status: 400 });
});

test('RejectPendingReservations is only valid when moving to an unavailable activity', async () => {
  const { client } = ctx;
  const { act, tr } = await newWorkspace(client);
  const w = await tr.workers.create({ friendlyName: uniq('rp') });
  await expectRestError(tr.workers(w.sid).update({ activitySid: act.Available.sid, rejectPendingReservations: true }), { status: 400 });
  const u = await tr.workers(w.sid).update({ activitySid: act.Unavailable.sid, rejectPendingReservations: true });
  assert.equal(u.activityName, 'Unavailable');
});

test('If-Match accepts the ETag quoted or bare', async () => {
  const { client, raw } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const w = await tr.workers.create({ friendlyName: uniq('q') });
  const etag = (await tr.workers(w.sid).fetchWithHttpInfo()).headers.etag;
  assert.ok(etag, 'ETag header');
  const bare = etag.replace(/^W\//, '').replace(/^"|"$/g, '');
  const quoted = `"${bare}"`;
  const r1 = await raw('POST', `/v1/Workspaces/${ws.sid}/Workers/${w.sid}`, { form: { FriendlyName: uniq('q1') }, headers: { 'If-Match': quoted } });
  assert.equal(r1.status, 200, `quoted If-Match ${quoted}: ${r1.status} ${r1.text}`);
  const etag2 = r1.headers.get('etag');
  const bare2 = etag2.replace(/^W\//, '').replace(/^"|"$/g, '');
  const r2 = await raw('POST', `/v1/Workspaces/${ws.sid}/Workers/${w.sid}`, { form: { FriendlyName: uniq('q2') }, headers: { 'If-Match': bare2 } });
  assert.equal(r2.status, 200, `bare If-Match ${bare2}: ${r2.status} ${r2.text}`);
});

test('worker channel capacity is limited to 50', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const w = await tr.workers.create({ friendlyName: uniq('cap') });
  const [c] = await tr.workers(w.sid).workerChannels.list();
  assert.equal((await tr.workers(w.sid).workerChannels(c.sid).update({ capacity: 50 })).configuredCapacity, 50);
  await expectRestError(tr.workers(w.sid).workerChannels(c.sid).update({ capacity: 51 }), { status: 400 });
});
