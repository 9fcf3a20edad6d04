import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useServer, uniq, fakeSid, expectRestError, newWorkspace, makeClient, rawRequest, RestException,
} from '../harness.mjs';

const ctx = useServer();

test('unknown workspace SID: RestException 404 / 20404 for fetch, update, remove, and child lists', async () => {
  const { client } = ctx;
  const ws = client.taskrouter.v1.workspaces(fakeSid('WS'));
  const err = await expectRestError(ws.fetch(), { status: 404, code: 20404 });
  assert.ok(err instanceof RestException);
  await expectRestError(ws.update({ friendlyName: 'x' }), { status: 404, code: 20404 });
  await expectRestError(ws.remove(), { status: 404, code: 20404 });
  await expectRestError(ws.activities.list(), { status: 404, code: 20404 });
  await expectRestError(ws.workers.create({ friendlyName: 'x' }), { status: 404, code: 20404 });
});

test('unknown child SIDs in an existing workspace are 404 / 20404', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const cases = [
    ['activity', tr.activities(fakeSid('WA'))],
    ['task channel', tr.taskChannels(fakeSid('TC'))],
    ['worker', tr.workers(fakeSid('WK'))],
    ['task queue', tr.taskQueues(fakeSid('WQ'))],
    ['workflow', tr.workflows(fakeSid('WW'))],
  ];
  for (const [what, c] of cases) {
    for (const [op, call] of [['fetch', () => c.fetch()], ['update', () => c.update({ friendlyName: uniq('x') })], ['remove', () => c.remove()]]) {
      try {
        await expectRestError(call(), { status: 404, code: 20404 });
      } catch (e) {
        e.message = `${what} ${op}: ${e.message}`;
        throw e;
      }
    }
  }
  const w = await tr.workers.create({ friendlyName: uniq('w') });
  await expectRestError(tr.workers(w.sid).workerChannels(fakeSid('WC')).update({ capacity: 2 }), { status: 404, code: 20404 });
});

test('a resource of another workspace is 404', async () => {
  const { client } = ctx;
  const a = await newWorkspace(client);
  const b = await newWorkspace(client);
  const w = await a.tr.workers.create({ friendlyName: uniq('w') });
  await expectRestError(b.tr.workers(w.sid).fetch(), { status: 404, code: 20404 });
  await expectRestError(b.tr.activities(a.act.Offline.sid).fetch(), { status: 404, code: 20404 });
});

test('malformed SIDs in the path are 404', async () => {
  const { client } = ctx;
  await expectRestError(client.taskrouter.v1.workspaces('WSnotasid').fetch(), { status: 404, code: 20404 });
  const { tr } = await newWorkspace(client);
  await expectRestError(tr.workers('WK123').fetch(), { status: 404, code: 20404 });
});

test('error body shape: {code, message, more_info, status} as JSON', async () => {
  const { raw } = ctx;
  const sid = fakeSid('WS');
  const res = await raw('GET', `/v1/Workspaces/${sid}`);
  assert.equal(res.status, 404);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.json.code, 20404);
  assert.equal(res.json.status, 404);
  assert.equal(res.json.more_info, 'https://www.twilio.com/docs/errors/20404');
  assert.equal(typeof res.json.message, 'string');
  assert.ok(res.json.message.length > 0);
});

test('wrong credentials: 401 / 20003', async () => {
  const { baseUrl, accountSid, authToken, client } = ctx;
  const ws = await client.taskrouter.v1.workspaces.create({ friendlyName: uniq('ws') });

  const badToken = makeClient(baseUrl, accountSid, 'wrong-token-0000000000000000000000');
  await expectRestError(badToken.taskrouter.v1.workspaces.list(), { status: 401, code: 20003 });
  await expectRestError(badToken.taskrouter.v1.workspaces(ws.sid).fetch(), { status: 401, code: 20003 });
  await expectRestError(badToken.taskrouter.v1.workspaces.create({ friendlyName: 'x' }), { status: 401, code: 20003 });
  await expectRestError(badToken.taskrouter.v1.workspaces(ws.sid).remove(), { status: 401, code: 20003 });

  const otherAccount = makeClient(baseUrl, fakeSid('AC'), authToken);
  await expectRestError(otherAccount.taskrouter.v1.workspaces(ws.sid).fetch(), { status: 401, code: 20003 });

  // Nothing was changed by the rejected calls.
  assert.equal((await client.taskrouter.v1.workspaces(ws.sid).fetch()).friendlyName, ws.friendlyName);

  const noAuth = await rawRequest(baseUrl, 'GET', '/v1/Workspaces');
  assert.equal(noAuth.status, 401);
  assert.equal(noAuth.json?.code, 20003);
  assert.equal(noAuth.json?.status, 401);
});

test('missing required parameters are 400 / 20001', async () => {
  const { client, raw } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const q = await tr.taskQueues.create({ friendlyName: uniq('q') });
  const cases = [
    ['/v1/Workspaces', {}],
    [`/v1/Workspaces/${ws.sid}/Activities`, {}],
    [`/v1/Workspaces/${ws.sid}/Workers`, { Attributes: '{}' }],
    [`/v1/Workspaces/${ws.sid}/TaskQueues`, { TargetWorkers: '1==1' }],
    [`/v1/Workspaces/${ws.sid}/TaskChannels`, { FriendlyName: 'no unique name' }],
    [`/v1/Workspaces/${ws.sid}/Workflows`, { FriendlyName: 'no configuration' }],
    [`/v1/Workspaces/${ws.sid}/Workflows`, { Configuration: JSON.stringify({ task_routing: { default_filter: { queue: q.sid } } }) }],
  ];
  for (const [p, form] of cases) {
    const res = await raw('POST', p, { form });
    assert.equal(res.status, 400, `POST ${p} ${JSON.stringify(form)} -> ${res.status} ${res.text}`);
    assert.equal(res.json?.code, 20001, `POST ${p} ${JSON.stringify(form)} -> ${res.text}`);
    assert.equal(res.json?.status, 400);
  }
});

test('FriendlyName longer than 64 characters is a 400', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const long = 'x'.repeat(65);
  await expectRestError(client.taskrouter.v1.workspaces.create({ friendlyName: long }), { status: 400 });
  await expectRestError(tr.activities.create({ friendlyName: long }), { status: 400 });
  await expectRestError(tr.workers.create({ friendlyName: long }), { status: 400 });
  await expectRestError(tr.taskChannels.create({ friendlyName: long, uniqueName: 'longname' }), { status: 400 });
  const ok = await tr.workers.create({ friendlyName: 'y'.repeat(64) });
  assert.equal(ok.friendlyName.length, 64);
});

test('unknown form fields are ignored (spec examples send undeclared fields)', async () => {
  const { raw, client } = ctx;
  const { ws } = await newWorkspace(client);
  const res = await raw('POST', `/v1/Workspaces/${ws.sid}/Workers`, {
    form: { FriendlyName: uniq('w'), OperatingUnitSid: fakeSid('OU'), Concurrency: '5' },
  });
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
});

test('delete responses are 204 with an empty body', async () => {
  const { raw, client } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const a = await tr.activities.create({ friendlyName: uniq('a') });
  const res = await raw('DELETE', `/v1/Workspaces/${ws.sid}/Activities/${a.sid}`);
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
});

test('unsupported methods are 405', async () => {
  const { raw, client } = ctx;
  const { ws } = await newWorkspace(client);
  const put = await raw('PUT', `/v1/Workspaces/${ws.sid}`, { form: { FriendlyName: 'x' } });
  assert.equal(put.status, 405, put.text);
  const del = await raw('DELETE', `/v1/Workspaces/${ws.sid}/Workers`);
  assert.equal(del.status, 405, del.text);
  assert.equal(del.json?.status, 405);
});
