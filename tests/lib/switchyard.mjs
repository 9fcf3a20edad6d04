// Shared by the Node suites that start their own server (no dependencies): the binary on a
// free port with the development credentials, plain REST calls to it, polling with a deadline,
// and how the browser suites launch Chromium.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export const ACCOUNT = 'AC00000000000000000000000000000000';
export const TOKEN = 'switchyard-dev-token';

/**
 * How the browser suites launch Debian's Chromium with playwright-core: headless, as root, and
 * without the background connections this machine's closed network refuses.
 */
export const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

/**
 * The database a test server runs on: `sqlite::memory:`, or a new database on the PostgreSQL
 * server `SWITCHYARD_TEST_DATABASE` names (the suites run once on each backend; the server
 * creates a missing database).
 */
export function testDatabase() {
  const server = process.env.SWITCHYARD_TEST_DATABASE;
  if (!server) return 'sqlite::memory:';
  const url = new URL(server);
  url.pathname = `/switchyard_node_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e9)}`;
  return url.toString();
}

/**
 * Starts `$SWITCHYARD_BIN serve` on a free port with a private database and the development
 * credentials (nothing from the environment's account settings); resolves with the child and
 * its URL once it says where it listens.
 */
export async function startServer(extraArgs = []) {
  const env = { ...process.env, RUST_LOG: 'warn' };
  delete env.SWITCHYARD_ACCOUNT_SID;
  delete env.SWITCHYARD_AUTH_TOKEN;
  delete env.SWITCHYARD_API_KEYS;
  const child = spawn(process.env.SWITCHYARD_BIN,
    ['serve', '--bind', '127.0.0.1:0', '--database', testDatabase(), ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'], env });
  for await (const line of createInterface({ input: child.stdout })) {
    const m = line.match(/Switchyard listening on (\S+)/);
    if (m) return { child, url: m[1] };
  }
  throw new Error('the server exited before listening');
}

/** A REST call to `/v1` of the server at `base`, as the development account; fails on an error. */
export async function rest(base, method, path, form) {
  const res = await fetch(`${base}/v1${path}`, {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  if (res.status === 204) return null;
  const body = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${JSON.stringify(body)}`);
  return body;
}

/** Polls `check` until it holds, for up to `ms`. */
export async function eventually(check, ms = 5000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    assert.ok(Date.now() < deadline, `${what} never held within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
