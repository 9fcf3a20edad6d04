// The console in a real browser: it shows the workspaces, a workspace's queue with its waiting
// task, a task created over REST appears without a reload, Explain says why a task waits, and a
// callback is replayed. A screenshot of each page goes to $CONSOLE_OUTPUT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  ACCOUNT, CHROMIUM, TOKEN, eventually, rest as restAt, startServer,
} from '../../lib/switchyard.mjs';

const OUTPUT = process.env.CONSOLE_OUTPUT || 'output';

let server; let base; let app; let appUrl; let browser;
const received = []; // assignment callbacks the app got

/** A REST call to the suite's server (or to the one at `at`). */
const rest = (method, path, form, at = base) => restAt(at, method, path, form);

async function shot(page, name) {
  await page.screenshot({ path: path.join(OUTPUT, `${name}.png`), fullPage: true });
}

before(async () => {
  ({ child: server, url: base } = await startServer());
  // The app leaves every reservation pending: it answers 200 with nothing to do.
  app = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { received.push(new URLSearchParams(body)); res.end(); });
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  appUrl = `http://127.0.0.1:${app.address().port}/assign`;
  browser = await chromium.launch(CHROMIUM);
});

after(async () => {
  await browser?.close();
  app?.close();
  server?.kill();
});

test('the console shows, explains and replays what happens, live', async () => {
  const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Support desk' })).sid;
  const w = `/Workspaces/${ws}`;
  const queue = (await rest('POST', `${w}/TaskQueues`, { FriendlyName: 'Spanish', TargetWorkers: "languages HAS 'es'" })).sid;
  await rest('POST', `${w}/Workflows`, {
    FriendlyName: 'Inbound',
    Configuration: JSON.stringify({ task_routing: { default_filter: { queue } } }),
    AssignmentCallbackUrl: appUrl,
  });
  const available = (await rest('GET', `${w}/Activities?FriendlyName=Available`)).activities[0].sid;
  await rest('POST', `${w}/Workers`, { FriendlyName: 'Alice', Attributes: '{"languages":["es"]}', ActivitySid: available });
  await rest('POST', `${w}/Workers`, { FriendlyName: 'Bob', Attributes: '{"languages":["en"]}', ActivitySid: available });
  // The first task goes to Alice (left pending by the app); the second waits for her.
  const first = (await rest('POST', `${w}/Tasks`, { Attributes: '{"topic":"billing"}' })).sid;
  await eventually(() => received.length === 1);
  const waiting = (await rest('POST', `${w}/Tasks`, { Attributes: '{"topic":"refund"}', Priority: '5' })).sid;

  const context = await browser.newContext({
    httpCredentials: { username: ACCOUNT, password: TOKEN },
    viewport: { width: 1440, height: 900 },
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Console errors too: a resource refused by the page's Content-Security-Policy, a failed load.
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  // The workspaces.
  await page.goto(`${base}/`);
  await page.getByText('Support desk').waitFor();
  await shot(page, '01-workspaces');

  // A workspace: its queue, the reserved task and the one waiting.
  await page.getByText('Support desk').click();
  const queueBlock = page.locator(`[data-queue="${queue}"]`);
  await queueBlock.getByText('Spanish').waitFor();
  await page.locator(`tr[data-task="${waiting}"]`).waitFor();
  assert.match(await page.locator(`tr[data-task="${waiting}"]`).innerText(), /pending/);
  assert.match(await page.locator(`tr[data-task="${first}"]`).innerText(), /reserved/);
  await page.getByText('Alice').first().waitFor();
  await page.locator('#live', { hasText: 'live' }).waitFor();
  await shot(page, '02-workspace');

  // A task created over REST appears without a reload, and so do its events.
  const third = (await rest('POST', `${w}/Tasks`, { Attributes: '{"topic":"upgrade"}' })).sid;
  await page.locator(`tr[data-task="${third}"]`).waitFor({ timeout: 5000 });
  await page.locator('#events li', { hasText: 'task.created' }).first().waitFor({ timeout: 5000 });

  // Explain says why the waiting task waits, worker by worker.
  await page.locator(`tr[data-task="${waiting}"] button.explain`).click();
  await page.locator('#explain-summary', { hasText: 'No worker may take the task now' }).waitFor();
  const reasons = await page.locator('#explain-workers').innerText();
  assert.match(reasons, /Bob[\s\S]*not in queue/i);
  assert.match(reasons, /Alice[\s\S]*(busy|channel is full)/i);
  await shot(page, '03-explain');
  await page.keyboard.press('Escape');

  // The callback log, and a replay of Alice's assignment callback.
  const row = page.locator('tr.callback').first();
  await row.waitFor({ timeout: 5000 });
  await row.locator('button.replay').click();
  await eventually(() => received.length === 2);
  assert.equal(received[1].get('ReservationSid'), received[0].get('ReservationSid'));
  await page.locator('tr.callback', { hasText: '(replay)' }).waitFor({ timeout: 5000 });
  await page.locator('tr.callback', { hasText: '(replay)' }).click();
  await page.locator('tr.row-detail:not([hidden])').first().waitFor();
  await shot(page, '04-callbacks');

  assert.deepEqual(errors, [], 'no error on the page');
  await context.close();
});

test('the console asks for credentials', async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate'), /^Basic realm="Switchyard"/);
});

test('the console moves a manual clock and resets the account', async () => {
  const manual = await startServer(['--clock', 'manual']);
  try {
    const at = manual.url;
    const ws = (await rest('POST', '/Workspaces', { FriendlyName: 'Clockwork' }, at)).sid;
    const context = await browser.newContext({ httpCredentials: { username: ACCOUNT, password: TOKEN } });
    const page = await context.newPage();
    await page.goto(`${at}/#/workspaces/${ws}`);
    await page.locator('#clock', { hasText: 'manual clock' }).waitFor();
    const before = await page.locator('#clock').innerText();
    await page.locator('#clock input').fill('3600');
    await page.locator('#advance').click();
    await eventually(async () => (await page.locator('#clock').innerText()) !== before);
    const clock = await (await fetch(`${at}/_switchyard/Clock`, {
      headers: { Authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}` },
    })).json();
    assert.match(await page.locator('#clock').innerText(), new RegExp(clock.now));

    // Reset, after the browser's confirmation, leaves the account with no workspace.
    await page.goto(`${at}/#/`);
    await page.getByText('Clockwork').waitFor();
    page.once('dialog', (d) => d.accept());
    await page.locator('#reset').click();
    await page.getByText('No workspace yet').waitFor();
    assert.equal((await rest('GET', '/Workspaces', undefined, at)).workspaces.length, 0);
    await shot(page, '05-reset');
    await context.close();
  } finally {
    manual.child.kill();
  }
});
