// A real HTTP server in the test process that plays the application's side of
// TaskRouter's assignment callbacks (taskrouter-api.md §5.3 / §5.4).
//
// It listens on 127.0.0.1, port 0 (node:http), records every request (method,
// path, full URL, headers, raw body and the decoded form fields) and answers
// each path the way the test asked with `on(path, responder)`. Tests share one
// server per file, so each test registers its own unique paths (see `path()`).
//
// A responder gets the recorded request and returns an answer
//   { status = 200, body = '', contentType = 'application/json', delayMs = 0 }
// where a non-string body is JSON-encoded. Shortcuts: `json(obj)`, `status(n)`.

import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { hex } from './harness.mjs';

/** Answer 200 with a JSON body (Content-Type application/json). */
export const json = (obj) => () => ({ status: 200, body: obj });
/** Answer with a bare status code and an empty body. */
export const status = (code, body = '') => () => ({ status: code, body, contentType: 'text/plain' });

export async function startCallbackServer() {
  const requests = [];
  const responders = new Map();
  const waiters = new Set();

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url, `http://${req.headers.host}`);
      const rec = {
        seq: requests.length,
        method: req.method,
        path: u.pathname,
        // What was requested on the wire, rebuilt as an absolute URL (scheme + Host header + target).
        url: `http://${req.headers.host}${req.url}`,
        headers: req.headers,
        rawBody,
        params: Object.fromEntries(new URLSearchParams(rawBody)),
        formKeys: [...new URLSearchParams(rawBody).keys()],
        at: Date.now(),
      };
      requests.push(rec);
      for (const w of [...waiters]) w.check();

      const responder = responders.get(u.pathname);
      let answer = { status: 404, body: 'no responder registered', contentType: 'text/plain' };
      try {
        if (responder) answer = { status: 200, body: '', contentType: 'application/json', ...(await responder(rec)) };
      } catch (e) {
        answer = { status: 599, body: String(e), contentType: 'text/plain' };
      }
      if (answer.delayMs) await sleep(answer.delayMs);
      const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'Content-Type': answer.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${server.address().port}`;

  return {
    origin,
    requests,
    /** A fresh, unique path prefix for one test, e.g. `/t-1a2b3c4d`. */
    path(prefix = 't') {
      return `/${prefix}-${hex(4)}`;
    },
    /** Absolute URL for a path (optionally with a query string). */
    url(p) {
      return origin + p;
    },
    /** Register (or replace) how a path answers. */
    on(p, responder) {
      responders.set(p, responder);
    },
    /** Requests received on a path (pathname only; the query string is ignored). */
    received(p) {
      return requests.filter((r) => r.path === p);
    },
    /**
     * Resolve with the first recorded request (already received or arriving later) for which
     * `pred` is true; reject after `timeoutMs` with the list of what did arrive.
     */
    waitFor(pred, { timeoutMs = 5000, what = 'a callback request' } = {}) {
      return new Promise((resolve, reject) => {
        const w = {
          check() {
            const hit = requests.find(pred);
            if (hit) {
              waiters.delete(w);
              clearTimeout(w.timer);
              resolve(hit);
            }
          },
        };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          const seen = requests.map((r) => `${r.method} ${r.path} ReservationSid=${r.params.ReservationSid} TaskSid=${r.params.TaskSid} WorkerSid=${r.params.WorkerSid}`);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received so far:\n  ${seen.join('\n  ') || '(nothing)'}`));
        }, timeoutMs);
        waiters.add(w);
        w.check();
      });
    },
    async close() {
      for (const w of waiters) clearTimeout(w.timer);
      waiters.clear();
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Poll `fn` until `pred(value)` holds (default ≤ 5 s); returns the last value. */
export async function pollUntil(fn, pred, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (pred(last)) return last;
    if (Date.now() > deadline) {
      const shown = typeof last?.toJSON === 'function' ? last.toJSON() : last;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(shown)}`);
    }
    await sleep(intervalMs);
  }
}
