import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, uniq, newWorkspace, walkPages, expectRestError } from '../harness.mjs';

const ctx = useServer();

async function workspaceWithWorkers(client, n = 7, available = 0) {
  const w = await newWorkspace(client);
  const workers = [];
  for (let i = 0; i < n; i++) {
    workers.push(await w.tr.workers.create({
      friendlyName: uniq(`pw${i}`),
      ...(i < available ? { activitySid: w.act.Available.sid } : {}),
    }));
  }
  return { ...w, workers };
}

function assertExactlyOnce(items, expectedSids, what) {
  const got = items.map((x) => x.sid);
  assert.equal(new Set(got).size, got.length, `${what}: no item delivered twice (${got.join(', ')})`);
  assert.deepEqual([...got].sort(), [...expectedSids].sort(), `${what}: every item delivered`);
}

test('page() + nextPage() with PageSize=2 walks 7 workers in 4 pages', async () => {
  const { client, baseUrl } = ctx;
  const { ws, tr, workers } = await workspaceWithWorkers(client);
  const http = client.httpClient;

  const first = await tr.workers.page({ pageSize: 2 });
  const meta = http.last.body.meta;
  const listUrl = `${baseUrl}/v1/Workspaces/${ws.sid}/Workers`;
  assert.equal(meta.key, 'workers');
  assert.equal(meta.page, 0);
  assert.equal(meta.page_size, 2);
  assert.equal(meta.previous_page_url, null, 'no previous page on the first page');
  for (const k of ['first_page_url', 'url', 'next_page_url']) {
    assert.equal(typeof meta[k], 'string', `meta.${k}`);
    assert.ok(meta[k].startsWith(`${listUrl}?`), `meta.${k} is absolute under the server base: ${meta[k]}`);
    assert.match(meta[k], /[?&]PageSize=2(&|$)/, `meta.${k} carries PageSize=2`);
  }
  assert.equal(first.nextPageUrl, meta.next_page_url);

  const { pages, items } = await walkPages(first);
  assert.deepEqual(pages.map((p) => p.instances.length), [2, 2, 2, 1]);
  assertExactlyOnce(items, workers.map((w) => w.sid), 'page walk');
  const last = pages[pages.length - 1];
  assert.equal(last.nextPageUrl, undefined, 'nextPageUrl is absent on the last page');
  assert.equal(http.last.body.meta.next_page_url, null, 'meta.next_page_url is null on the last page');
  assert.equal(http.last.body.meta.page, 3, 'meta.page counts pages from 0');
  assert.equal(await last.nextPage(), undefined);

  // Every page request followed the server's absolute next_page_url.
  const gets = http.history.filter((h) => h.method === 'GET').slice(-4);
  for (const g of gets.slice(1)) assert.ok(g.uri.startsWith(`${listUrl}?`), `followed ${g.uri}`);
});

test('list({pageSize: 2}) follows next_page_url and returns every item exactly once, in list order', async () => {
  const { client } = ctx;
  const { tr, workers } = await workspaceWithWorkers(client);
  const http = client.httpClient;
  const before = http.history.length;
  const items = await tr.workers.list({ pageSize: 2 });
  assertExactlyOnce(items, workers.map((w) => w.sid), 'list');
  const requests = http.history.slice(before);
  assert.equal(requests.length, 4, `4 page requests (got ${requests.map((r) => r.uri).join(' , ')})`);
  const single = await tr.workers.list({ pageSize: 50 });
  assert.deepEqual(items.map((w) => w.sid), single.map((w) => w.sid), 'paged order equals single-page order');
});

test('each() and list({limit}) over pages', async () => {
  const { client } = ctx;
  const { tr, workers } = await workspaceWithWorkers(client);
  const seen = [];
  await tr.workers.each({ pageSize: 3 }, (w) => seen.push(w));
  assertExactlyOnce(seen, workers.map((w) => w.sid), 'each');
  const five = await tr.workers.list({ limit: 5, pageSize: 2 });
  assert.equal(five.length, 5);
  assert.equal(new Set(five.map((w) => w.sid)).size, 5);
});

test('filters are preserved across pages', async () => {
  const { client } = ctx;
  const { tr, workers } = await workspaceWithWorkers(client, 7, 5);
  const available = workers.slice(0, 5).map((w) => w.sid);
  const items = await tr.workers.list({ activityName: 'Available', pageSize: 2 });
  assertExactlyOnce(items, available, 'ActivityName=Available over 3 pages');
  const { pages, items: walked } = await walkPages(tr.workers.page({ available: 'true', pageSize: 2 }));
  assert.deepEqual(pages.map((p) => p.instances.length), [2, 2, 1]);
  assertExactlyOnce(walked, available, 'Available=true page walk');
  for (const p of pages.slice(0, -1)) assert.match(p.nextPageUrl, /[?&]Available=true(&|$)/, 'next_page_url echoes the filter');
});

test('activities page: 3 defaults + 4 created = 7 over PageSize=2', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  for (let i = 0; i < 4; i++) await tr.activities.create({ friendlyName: uniq(`act${i}`), available: i % 2 === 0 });
  const all = await tr.activities.list();
  assert.equal(all.length, 7);
  const { pages, items } = await walkPages(tr.activities.page({ pageSize: 2 }));
  assert.deepEqual(pages.map((p) => p.instances.length), [2, 2, 2, 1]);
  assertExactlyOnce(items, all.map((a) => a.sid), 'activities');
  assert.equal(pages[3].nextPageUrl, undefined);
  const listed = await tr.activities.list({ pageSize: 2 });
  assertExactlyOnce(listed, all.map((a) => a.sid), 'activities list');
});

test('task queues and workflows page too', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const queues = [];
  for (let i = 0; i < 5; i++) queues.push(await tr.taskQueues.create({ friendlyName: uniq(`q${i}`) }));
  assertExactlyOnce(await tr.taskQueues.list({ pageSize: 2 }), queues.map((q) => q.sid), 'task queues');
  const cfg = JSON.stringify({ task_routing: { default_filter: { queue: queues[0].sid } } });
  const wfs = [];
  for (let i = 0; i < 3; i++) wfs.push(await tr.workflows.create({ friendlyName: uniq(`wf${i}`), configuration: cfg }));
  assertExactlyOnce(await tr.workflows.list({ pageSize: 1 }), wfs.map((w) => w.sid), 'workflows');
  const channels = await tr.taskChannels.list({ pageSize: 2 });
  assert.deepEqual(channels.map((c) => c.uniqueName).sort(), ['chat', 'default', 'sms', 'video', 'voice']);
});

test('worker channels page', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  const w = await tr.workers.create({ friendlyName: uniq('w') });
  const all = await tr.workers(w.sid).workerChannels.list();
  assert.equal(all.length, 5);
  const { pages, items } = await walkPages(tr.workers(w.sid).workerChannels.page({ pageSize: 2 }));
  assert.deepEqual(pages.map((p) => p.instances.length), [2, 2, 1]);
  assertExactlyOnce(items, all.map((c) => c.sid), 'worker channels');
});

test('workspaces page at account level', async () => {
  const { client } = ctx;
  const created = [];
  for (let i = 0; i < 3; i++) created.push(await client.taskrouter.v1.workspaces.create({ friendlyName: uniq(`pws${i}`) }));
  const all = await client.taskrouter.v1.workspaces.list({ pageSize: 2 });
  const sids = all.map((w) => w.sid);
  assert.equal(new Set(sids).size, sids.length, 'no duplicates');
  for (const c of created) assert.ok(sids.includes(c.sid), `${c.sid} listed`);
  const single = await client.taskrouter.v1.workspaces.list({ pageSize: 1000 });
  assert.deepEqual(sids, single.map((w) => w.sid));
});

test('previousPage() returns the previous page', async () => {
  const { client } = ctx;
  const { tr } = await workspaceWithWorkers(client, 5);
  const p1 = await tr.workers.page({ pageSize: 2 });
  const p2 = await p1.nextPage();
  assert.ok(p2.previousPageUrl, 'second page has meta.previous_page_url');
  const back = await p2.previousPage();
  assert.deepEqual(back.instances.map((w) => w.sid), p1.instances.map((w) => w.sid));
});

test('empty list page', async () => {
  const { client, baseUrl } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const page = await tr.workers.page({ pageSize: 10 });
  assert.deepEqual(page.instances, []);
  assert.equal(page.nextPageUrl, undefined);
  const raw = client.httpClient.last.body;
  assert.deepEqual(raw.workers, []);
  assert.equal(raw.meta.key, 'workers');
  assert.equal(raw.meta.page_size, 10);
  assert.equal(raw.meta.next_page_url, null);
  assert.equal(raw.meta.previous_page_url, null);
  assert.ok(raw.meta.url.startsWith(`${baseUrl}/v1/Workspaces/${ws.sid}/Workers?`), raw.meta.url);
});

test('PageSize must be within 1..1000', async () => {
  const { client } = ctx;
  const { tr } = await newWorkspace(client);
  await tr.workers.create({ friendlyName: uniq('w') });
  // The SDK refuses pageSize <= 0 itself (Version.readLimits), so 0 only reaches the server through page().
  await expectRestError(tr.workers.page({ pageSize: 0 }), { status: 400 });
  await expectRestError(tr.workers.page({ pageSize: 1001 }), { status: 400 });
  assert.equal((await tr.workers.page({ pageSize: 1000 })).instances.length, 1);
});

test('absolute paging (Page without PageToken) is refused or returns the page it claims', async () => {
  const { client } = ctx;
  const { tr, workers } = await workspaceWithWorkers(client, 5);
  const http = client.httpClient;
  // twilio-node sends Page=<pageNumber> without a PageToken when asked to. TaskRouter deprecated this
  // (debugger 40153, 400 for Workers since 2021-12-01). Either a 400, or items that match meta.page.
  let page;
  try {
    page = await tr.workers.page({ pageSize: 2, pageNumber: 1 });
  } catch (e) {
    assert.equal(e.status, 400, `absolute paging should be a 400 if refused, got ${e.status} ${e.message}`);
    return;
  }
  const meta = http.last.body.meta;
  const all = (await tr.workers.list()).map((w) => w.sid);
  assert.deepEqual(
    page.instances.map((w) => w.sid),
    all.slice(2 * meta.page, 2 * meta.page + 2),
    `GET …/Workers?PageSize=2&Page=1 (no PageToken) answered meta.page=${meta.page} but its items are not those at offset ${2 * meta.page}`,
  );
  assert.equal(workers.length, 5);
});
