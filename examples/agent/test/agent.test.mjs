// The agent page in a real browser (Debian's Chromium through playwright-core) against a real
// Switchyard: Alice signs in with a token from the example's endpoint, goes Available, sees a
// task created over REST arrive as a reservation, accepts it and completes it; REST agrees at
// each step. An unknown name is refused. Screenshots go to $AGENT_OUTPUT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  ACCOUNT, CHROMIUM, TOKEN, eventually, rest as restAt, startServer,
} from '../../../tests/lib/switchyard.mjs';
import { credentialsFromEnv, startAgentApp } from '../server.mjs';
import { setUpDesk } from '../setup.mjs';

const OUTPUT = process.env.AGENT_OUTPUT || 'output';

let server; let base; let app; let browser; let ws;
const rest = (method, route, form) => restAt(base, method, route, form);

before(async () => {
  ({ child: server, url: base } = await startServer());
  const credentials = {
    ...credentialsFromEnv({}), switchyardUrl: base, accountSid: ACCOUNT, authToken: TOKEN,
  };
  ws = await setUpDesk(credentials);
  app = await startAgentApp({ ...credentials, workspaceSid: ws });
  browser = await chromium.launch(CHROMIUM);
});

after(async () => {
  await browser?.close();
  await app?.close();
  server?.kill();
});

async function openPage() {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  return { page, problems };
}

const shot = (page, name) => page.screenshot({ path: path.join(OUTPUT, `${name}.png`), fullPage: true });

test('an agent signs in, goes available, accepts and completes a task', async () => {
  const { page, problems } = await openPage();
  await page.goto(app.url);
  await page.fill('#identity', 'Alice');
  await page.click('#sign-in button');
  await page.locator('#who').getByText('Alice · Offline').waitFor({ timeout: 15000 });
  assert.equal(await page.locator('#sign-in').isHidden(), true);

  await page.getByRole('button', { name: 'Available', exact: true }).click();
  await page.locator('#who').getByText('Alice · Available').waitFor();
  const alice = (await rest('GET', `/Workspaces/${ws}/Workers?FriendlyName=Alice`)).workers[0];
  assert.equal(alice.activity_name, 'Available');

  const task = await rest('POST', `/Workspaces/${ws}/Tasks`, {
    Attributes: JSON.stringify({ customer: 'Ana', topic: 'billing' }),
  });
  const card = page.locator(`.reservation:has-text("${task.sid}")`);
  await card.locator('.state').getByText('pending').waitFor({ timeout: 15000 });
  assert.match(await card.locator('.attributes').textContent(), /"customer": "Ana"/);
  await shot(page, 'reservation');

  await card.getByRole('button', { name: 'Accept' }).click();
  await card.locator('.state').getByText('accepted').waitFor();
  assert.equal((await rest('GET', `/Workspaces/${ws}/Tasks/${task.sid}`)).assignment_status, 'assigned');

  await card.getByRole('button', { name: 'Complete' }).click();
  await card.locator('.state').getByText('completed').waitFor();
  await eventually(async () => (await rest('GET', `/Workspaces/${ws}/Tasks/${task.sid}`))
    .assignment_status === 'completed', 5000, 'the task completed over REST');
  assert.equal((await rest('GET', `/Workspaces/${ws}/Tasks/${task.sid}`)).reason, 'completed by the agent');
  await shot(page, 'completed');
  assert.equal(await page.locator('#status.error').count(), 0, await page.locator('#status').textContent());
  assert.deepEqual(problems, []);
  await page.close();
});

test('an agent who rejects a reservation leaves the task to the others', async () => {
  const { page, problems } = await openPage();
  await page.goto(app.url);
  await page.fill('#identity', 'Bob');
  await page.click('#sign-in button');
  await page.getByRole('button', { name: 'Available', exact: true }).click();
  await page.locator('#who').getByText('Bob · Available').waitFor({ timeout: 15000 });
  // Alice went Offline when her page closed; made sure of here, so the task is Bob's.
  const alice = (await rest('GET', `/Workspaces/${ws}/Workers?FriendlyName=Alice`)).workers[0];
  const offline = (await rest('GET', `/Workspaces/${ws}/Activities?FriendlyName=Offline`)).activities[0];
  await rest('POST', `/Workspaces/${ws}/Workers/${alice.sid}`, { ActivitySid: offline.sid });
  const task = await rest('POST', `/Workspaces/${ws}/Tasks`, { Attributes: '{"topic":"returns"}' });
  const card = page.locator(`.reservation:has-text("${task.sid}")`);
  await card.locator('.state').getByText('pending').waitFor({ timeout: 15000 });
  await card.getByRole('button', { name: 'Reject' }).click();
  await card.locator('.state').getByText('rejected').waitFor();
  const reservations = (await rest('GET', `/Workspaces/${ws}/Tasks/${task.sid}/Reservations`)).reservations;
  assert.deepEqual(reservations.map((r) => r.reservation_status), ['rejected']);
  assert.equal(await page.locator('#status.error').count(), 0, await page.locator('#status').textContent());
  assert.deepEqual(problems, []);
  await page.close();
});

test('an unknown name is refused', async () => {
  const { page } = await openPage();
  await page.goto(app.url);
  await page.fill('#identity', 'Mallory');
  await page.click('#sign-in button');
  await page.locator('#status').getByText('No agent named Mallory.').waitFor();
  assert.equal(await page.locator('#desk').isHidden(), true);
  await page.close();
});
