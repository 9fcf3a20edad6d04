// Test harness: starts a fresh Switchyard server per test file and builds an
// official Twilio Node.js client pointed at it.
//
// How the SDK is pointed at the local server
// ------------------------------------------
// In twilio-node every product is a `Domain` (node_modules/twilio/lib/base/Domain.js)
// whose public, typed `baseUrl` property ("https://taskrouter.twilio.com" for
// TaskRouter, set in lib/rest/TaskrouterBase.js) is the only place the host is
// taken from: `Domain.absoluteUrl()` joins `baseUrl` + "/v1/..." for every
// create/fetch/update/remove/page call. So we simply assign
//
//     client.taskrouter.baseUrl = "http://127.0.0.1:PORT";
//
// Paging does not use `baseUrl`: `Page.nextPage()` requests `meta.next_page_url`
// verbatim (lib/base/Page.js), so the server must emit absolute URLs under its own
// base - which is exactly what the suite asserts.
//
// Two guards make this robust:
//  * `region` / `edge` are forced to '' (not nullish) so TWILIO_REGION / TWILIO_EDGE
//    in the environment cannot make BaseTwilio.getHostname() rewrite the host.
//  * requests go through `GuardedRequestClient`, a subclass of the SDK's own
//    RequestClient (passed as the documented `httpClient` option), which refuses any
//    URL whose origin is not the local server (so a mistake can never reach
//    twilio.com) and records a short request/response history for diagnostics and
//    for assertions on the raw wire JSON (e.g. date strings, meta, headers).
// Plain http works because RequestClient hands the URL to axios unchanged (its
// https.Agent is only used for https URLs, and `proxy: false` disables env proxies).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { mkdirSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { testDatabase } from '../lib/switchyard.mjs';
import assert from 'node:assert/strict';
import twilio from 'twilio';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STARTUP_TIMEOUT_MS = 20_000;

export const RestException = twilio.RestException;

export function hex(bytes = 16) {
  return randomBytes(bytes).toString('hex');
}

/** A random, well-formed SID with the given two-letter prefix. */
export function fakeSid(prefix) {
  return prefix + hex(16);
}

/** A unique friendly name (tests share a server, so names must not collide). */
export function uniq(prefix = 'x') {
  return `${prefix}-${hex(4)}`;
}

export function sidPattern(prefix) {
  return new RegExp(`^${prefix}[0-9a-f]{32}$`);
}

export function serverBinary() {
  const bin = process.env.SWITCHYARD_BIN ?? path.resolve(HERE, '../../target/debug/switchyard');
  return path.resolve(bin);
}

/**
 * Start `$SWITCHYARD_BIN serve` on an ephemeral port with a private database (see testDatabase).
 * Resolves once the server printed `Switchyard listening on http://...`.
 */
export async function startServer({ accountSid, authToken, name = 'server', extraArgs = [] } = {}) {
  const bin = serverBinary();
  const args = [
    'serve',
    '--bind', '127.0.0.1:0',
    '--database', testDatabase(),
    '--account-sid', accountSid,
    '--auth-token', authToken,
    ...extraArgs,
  ];
  const child = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Drop settings that would change URLs or accounts behind the suite's back.
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !['SWITCHYARD_PUBLIC_URL', 'SWITCHYARD_ACCOUNTS', 'SWITCHYARD_BIND', 'SWITCHYARD_DATABASE_URL'].includes(k))),
  });

  // Keep server output: a per-file log under logs/ plus the last 64 KiB of stderr
  // in memory for error messages.
  const logDir = process.env.SWITCHYARD_LOG_DIR ?? path.join(HERE, 'logs');
  let log = null;
  try {
    mkdirSync(logDir, { recursive: true });
    log = createWriteStream(path.join(logDir, `${name}.log`));
  } catch {
    log = null;
  }
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    log?.write(chunk);
    stderr = (stderr + chunk.toString()).slice(-65536);
  });

  const baseUrl = await new Promise((resolve, reject) => {
    let settled = false;
    const fail = (msg) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${msg}\ncommand: ${bin} ${args.join(' ')}\n--- server stderr ---\n${stderr}`));
    };
    const timer = setTimeout(
      () => fail(`Switchyard did not report "Switchyard listening on http://..." within ${STARTUP_TIMEOUT_MS / 1000} s`),
      STARTUP_TIMEOUT_MS,
    );
    child.on('error', (err) => fail(`could not start ${bin}: ${err.message}`));
    child.on('exit', (code, signal) => fail(`Switchyard exited before it was ready (code ${code}, signal ${signal})`));
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      log?.write(`[stdout] ${line}\n`);
      const m = /Switchyard listening on (https?:\/\/\S+)/.exec(line);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve(m[1].replace(/\/+$/, ''));
      }
    });
  });

  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  return {
    baseUrl,
    child,
    stderr: () => stderr,
    async stop() {
      process.off('exit', killOnExit);
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
      log?.end();
    },
  };
}

/** twilio-node's RequestClient, restricted to one origin and with a request history. */
export class GuardedRequestClient extends twilio.RequestClient {
  constructor(baseUrl) {
    super({ timeout: 15_000 });
    this.allowedOrigin = new URL(baseUrl).origin;
    this.history = [];
  }

  async request(opts) {
    const origin = new URL(opts.uri).origin;
    if (origin !== this.allowedOrigin) {
      throw new Error(`refusing to send ${opts.method.toUpperCase()} ${opts.uri}: not under ${this.allowedOrigin}`);
    }
    const entry = { method: opts.method.toUpperCase(), uri: opts.uri, params: opts.params, data: opts.data, headers: { ...opts.headers } };
    delete entry.headers.Authorization;
    this.history.push(entry);
    if (this.history.length > 50) this.history.shift();
    const res = await super.request(opts);
    entry.statusCode = res.statusCode;
    entry.body = res.body;
    entry.responseHeaders = res.headers;
    return res;
  }

  /** The last exchange (request + raw response), for assertions on the wire format. */
  get last() {
    return this.history[this.history.length - 1];
  }
}

/** An official twilio-node client whose TaskRouter domain points at `baseUrl`. */
export function makeClient(baseUrl, accountSid, authToken) {
  const httpClient = new GuardedRequestClient(baseUrl);
  const client = twilio(accountSid, authToken, { httpClient, region: '', edge: '', autoRetry: false });
  client.taskrouter.baseUrl = baseUrl;
  return client;
}

/**
 * Register before/after hooks (top level of a test file) that start one server
 * for the file. Returns a context filled in by `before`. `serverArgs` are added to
 * the `serve` command line, e.g. `['--clock', 'manual']`.
 */
export function useServer({ serverArgs = [] } = {}) {
  const ctx = {
    accountSid: 'AC' + hex(16),
    authToken: hex(16),
    server: null,
    baseUrl: null,
    client: null,
    /** raw HTTP helper (fetch) for things the SDK cannot express */
    raw: null,
  };
  before(async () => {
    const name = path.basename(process.argv[1] ?? 'server').replace(/\.test\.mjs$/, '');
    ctx.server = await startServer({ accountSid: ctx.accountSid, authToken: ctx.authToken, name, extraArgs: serverArgs });
    ctx.baseUrl = ctx.server.baseUrl;
    ctx.client = makeClient(ctx.baseUrl, ctx.accountSid, ctx.authToken);
    ctx.raw = (method, p, opts = {}) => rawRequest(ctx.baseUrl, method, p, { auth: [ctx.accountSid, ctx.authToken], ...opts });
  });
  after(async () => {
    await ctx.server?.stop();
  });
  return ctx;
}

/**
 * Minimal raw request (Basic auth, form-encoded body) for the few cases the SDK
 * cannot send, e.g. a parameter the SDK does not expose. Returns status, headers, JSON.
 */
export async function rawRequest(baseUrl, method, p, { auth, form, query, headers: extraHeaders } = {}) {
  const url = new URL(baseUrl + p);
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.append(k, v);
  const headers = { Accept: 'application/json', ...extraHeaders };
  if (auth) headers.Authorization = 'Basic ' + Buffer.from(auth.join(':')).toString('base64');
  let body;
  if (form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

// ---------------------------------------------------------------- assertions

const WIRE_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** A wire date string exactly as Twilio writes it: YYYY-MM-DDTHH:MM:SSZ (no fraction, no offset). */
export function assertWireDate(s, what = 'date') {
  assert.equal(typeof s, 'string', `${what} should be a string on the wire, got ${JSON.stringify(s)}`);
  assert.match(s, WIRE_DATE, `${what} should be YYYY-MM-DDTHH:MM:SSZ, got ${JSON.stringify(s)}`);
}

/** The SDK deserialized it into a valid JS Date close to now. */
export function assertRecentDate(d, what = 'date', toleranceMs = 10 * 60_000) {
  assert.ok(d instanceof Date, `${what} should be deserialized into a Date, got ${JSON.stringify(d)}`);
  assert.ok(!Number.isNaN(d.getTime()), `${what} is an invalid Date`);
  assert.ok(Math.abs(Date.now() - d.getTime()) < toleranceMs, `${what} ${d.toISOString()} is not close to now`);
}

/** Expect a RestException with the given HTTP status / Twilio error code. */
export async function expectRestError(promiseOrFn, { status, code, message } = {}) {
  let err;
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected a RestException (HTTP ${status}${code ? `, code ${code}` : ''}) but the call succeeded`);
  assert.ok(err instanceof RestException, `expected a RestException, got ${err?.stack ?? err}`);
  const ctx = `(got HTTP ${err.status}, code ${err.code}, message ${JSON.stringify(err.message)})`;
  if (status !== undefined) assert.equal(err.status, status, `HTTP status ${ctx}`);
  if (code !== undefined) assert.equal(err.code, code, `Twilio error code ${ctx}`);
  if (code !== undefined) assert.equal(err.moreInfo, `https://www.twilio.com/docs/errors/${code}`, `more_info ${ctx}`);
  assert.equal(typeof err.message, 'string', `message ${ctx}`);
  assert.ok(err.message.length > 0, `message should not be empty ${ctx}`);
  if (message) assert.match(err.message, message, `message ${ctx}`);
  return err;
}

/** Camel-case a snake_case spec field name the way twilio-node names properties. */
export function camel(s) {
  return s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

/** Create a workspace with a unique name and return it plus its default activities by name. */
export async function newWorkspace(client, params = {}) {
  const ws = await client.taskrouter.v1.workspaces.create({ friendlyName: uniq('ws'), ...params });
  const activities = await client.taskrouter.v1.workspaces(ws.sid).activities.list();
  const act = Object.fromEntries(activities.map((a) => [a.friendlyName, a]));
  return { ws, act, tr: client.taskrouter.v1.workspaces(ws.sid) };
}

/** Collect all instances by walking page() / nextPage(). Returns { pages, items }. */
export async function walkPages(firstPage) {
  const pages = [];
  let page = await firstPage;
  while (page) {
    pages.push(page);
    if (pages.length > 100) throw new Error('paging did not terminate after 100 pages');
    page = await page.nextPage();
  }
  return { pages, items: pages.flatMap((p) => p.instances) };
}
