// Sets up the agent desk the page works against, with the official Twilio Node.js library
// pointed at Switchyard: a workspace, two agents (Alice and Bob, Offline), one queue for
// everyone and a workflow with no assignment callback, so reservations wait for the agent's
// page to accept or reject them.

import twilio from 'twilio';

/** A Twilio REST client whose TaskRouter domain is the Switchyard at `switchyardUrl`. */
export function taskRouterClient({ switchyardUrl, accountSid, authToken }) {
  const client = twilio(accountSid, authToken, { region: '', edge: '' });
  client.taskrouter.baseUrl = switchyardUrl;
  return client.taskrouter.v1;
}

/** Creates the desk; resolves with the workspace's SID. */
export async function setUpDesk(credentials) {
  const tr = taskRouterClient(credentials);
  const workspace = await tr.workspaces.create({ friendlyName: 'Agent desk' });
  const desk = tr.workspaces(workspace.sid);
  for (const [friendlyName, languages] of [['Alice', ['en', 'es']], ['Bob', ['en']]]) {
    await desk.workers.create({ friendlyName, attributes: JSON.stringify({ languages }) });
  }
  const queue = await desk.taskQueues.create({ friendlyName: 'Everyone', targetWorkers: '1==1' });
  await desk.workflows.create({
    friendlyName: 'Inbound',
    configuration: JSON.stringify({ task_routing: { default_filter: { queue: queue.sid } } }),
  });
  return workspace.sid;
}
