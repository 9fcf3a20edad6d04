// The agent page's own small server: the page, Twilio's Worker SDK bundled for the browser
// (from the npm package, no CDN), and the token endpoint that signs an agent in.
//
//   SWITCHYARD_URL=http://127.0.0.1:7979 node server.mjs
//
// With no AGENT_WORKSPACE_SID it sets up a fresh desk (setup.mjs) first. The credentials
// default to Switchyard's development ones; set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
// TWILIO_API_KEY and TWILIO_API_SECRET for a server started with your own.

import { createServer } from 'node:http';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import esbuild from 'esbuild';
import twilio from 'twilio';
import { setUpDesk, taskRouterClient } from './setup.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PAGES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/agent.js': ['agent.js', 'text/javascript; charset=utf-8'],
  '/agent.css': ['agent.css', 'text/css; charset=utf-8'],
};
const TOKEN_TTL_SECONDS = 3600;

/** The SDK's package built into one browser script that sets `window.TaskRouter`. */
async function bundleWorkerSdk() {
  const result = await esbuild.build({
    entryPoints: ['twilio-taskrouter'],
    absWorkingDir: here,
    bundle: true,
    format: 'iife',
    globalName: 'TaskRouter',
    platform: 'browser',
    minify: true,
    write: false,
    logLevel: 'error',
  });
  return result.outputFiles[0].contents;
}

async function readJson(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('request too large');
  }
  return JSON.parse(body || '{}');
}

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

function sendJson(res, status, value) {
  send(res, status, 'application/json', JSON.stringify(value));
}

/**
 * Starts the page's server on `port` (0: any free one) on 127.0.0.1; resolves with its URL and
 * a `close()`.
 */
export async function startAgentApp({
  switchyardUrl, workspaceSid, accountSid, authToken, apiKeySid, apiKeySecret, port = 0,
}) {
  const sdk = await bundleWorkerSdk();
  const desk = taskRouterClient({ switchyardUrl, accountSid, authToken }).workspaces(workspaceSid);
  const eventBridge = `${switchyardUrl.replace(/\/$/, '')}/v1/wschannels`;

  // Signs an agent in by name. A real app would authenticate the agent first: this one trusts
  // whoever types a worker's name, which is fine only on a developer's machine.
  async function mintToken(identity) {
    const [worker] = await desk.workers.list({ friendlyName: identity, limit: 1 });
    if (!worker) return null;
    const { AccessToken } = twilio.jwt;
    const token = new AccessToken(accountSid, apiKeySid, apiKeySecret, {
      identity, ttl: TOKEN_TTL_SECONDS,
    });
    token.addGrant(new AccessToken.TaskRouterGrant({
      workspaceSid, workerSid: worker.sid, role: 'worker',
    }));
    return {
      token: token.toJwt(),
      workerSid: worker.sid,
      ebServer: eventBridge,
      wsServer: eventBridge.replace(/^http/, 'ws'),
    };
  }

  const server = createServer(async (req, res) => {
    try {
      const { pathname } = new URL(req.url, 'http://localhost');
      if (req.method === 'GET' && PAGES[pathname]) {
        const [file, type] = PAGES[pathname];
        return send(res, 200, type, await readFile(path.join(here, 'public', file)));
      }
      if (req.method === 'GET' && pathname === '/twilio-taskrouter.js') {
        return send(res, 200, 'text/javascript; charset=utf-8', sdk);
      }
      if (req.method === 'POST' && pathname === '/token') {
        const { identity } = await readJson(req);
        if (typeof identity !== 'string' || !identity.trim()) {
          return sendJson(res, 400, { message: 'Type your name.' });
        }
        const signedIn = await mintToken(identity.trim());
        if (!signedIn) return sendJson(res, 404, { message: `No agent named ${identity.trim()}.` });
        return sendJson(res, 200, signedIn);
      }
      return sendJson(res, 404, { message: 'Not found.' });
    } catch (err) {
      return sendJson(res, 500, { message: err.message });
    }
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The credentials from the environment, or Switchyard's development ones. */
export function credentialsFromEnv(env = process.env) {
  return {
    switchyardUrl: env.SWITCHYARD_URL ?? 'http://127.0.0.1:7979',
    accountSid: env.TWILIO_ACCOUNT_SID ?? 'AC00000000000000000000000000000000',
    authToken: env.TWILIO_AUTH_TOKEN ?? 'switchyard-dev-token',
    apiKeySid: env.TWILIO_API_KEY ?? 'SK00000000000000000000000000000000',
    apiKeySecret: env.TWILIO_API_SECRET ?? 'switchyard-dev-api-key-secret',
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const credentials = credentialsFromEnv();
  const workspaceSid = process.env.AGENT_WORKSPACE_SID ?? await setUpDesk(credentials);
  const app = await startAgentApp({
    ...credentials, workspaceSid, port: Number(process.env.AGENT_PORT ?? 0),
  });
  console.log(`Agent desk ${workspaceSid}: open ${app.url} and sign in as Alice or Bob.`);
  console.log(`Create a task for them:
  curl -u ${credentials.accountSid}:${credentials.authToken} \\
    ${credentials.switchyardUrl}/v1/Workspaces/${workspaceSid}/Tasks \\
    --data-urlencode 'Attributes={"customer":"Ana","topic":"billing"}'`);
}
