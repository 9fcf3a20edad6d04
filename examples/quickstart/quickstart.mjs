// Twilio's TaskRouter quickstart, step by step, with the official Twilio Node.js library pointed
// at Switchyard: a Spanish-speaking caller waits while Alice is Offline, Alice goes Idle and is
// reserved, and the reservation is accepted over REST.
//
//   SWITCHYARD_URL=http://127.0.0.1:7979 node quickstart.mjs
//
// The server must give new workspaces the activities of the tutorials (Offline, Idle, Busy,
// Reserved): `switchyard serve --activity-set legacy`. `run.sh` starts one.

import twilio from 'twilio';

const baseUrl = process.env.SWITCHYARD_URL ?? 'http://127.0.0.1:7979';
const accountSid = process.env.SWITCHYARD_ACCOUNT_SID ?? 'AC00000000000000000000000000000000';
const authToken = process.env.SWITCHYARD_AUTH_TOKEN ?? 'switchyard-dev-token';

// The only change from the tutorial: the TaskRouter domain's base URL.
const client = twilio(accountSid, authToken, { region: '', edge: '' });
client.taskrouter.baseUrl = baseUrl;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function step(text) {
  console.log(`\n== ${text}`);
}
async function until(what, check) {
  for (let i = 0; i < 100; i++) {
    const value = await check();
    if (value) return value;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

step('Create the workspace, its workers, queues and workflow');
// Single-tasking, as in the tutorial: the queues' Reserved and Busy activities then apply.
const workspace = await client.taskrouter.v1.workspaces.create({
  friendlyName: 'TaskRouter Quickstart',
  multiTaskEnabled: false,
});
const tr = client.taskrouter.v1.workspaces(workspace.sid);
const activities = Object.fromEntries((await tr.activities.list()).map((a) => [a.friendlyName, a]));
console.log(`workspace ${workspace.sid}; activities: ${Object.keys(activities).join(', ')}`);

const alice = await tr.workers.create({
  friendlyName: 'Alice',
  attributes: JSON.stringify({ languages: ['en', 'es'] }),
});
const bob = await tr.workers.create({
  friendlyName: 'Bob',
  attributes: JSON.stringify({ languages: ['en'] }),
});
console.log(`Alice ${alice.sid} (${alice.activityName}), Bob ${bob.sid} (${bob.activityName})`);

const queue = (friendlyName, targetWorkers) =>
  tr.taskQueues.create({
    friendlyName,
    targetWorkers,
    reservationActivitySid: activities.Reserved.sid,
    assignmentActivitySid: activities.Busy.sid,
  });
const spanish = await queue('Customer Care Requests - Spanish', 'languages HAS "es"');
const english = await queue('Customer Care Requests - English', 'languages HAS "en"');

const workflow = await tr.workflows.create({
  friendlyName: 'Sales',
  taskReservationTimeout: 120,
  configuration: JSON.stringify({
    task_routing: {
      filters: [
        { filter_friendly_name: 'Spanish', expression: 'selected_language=="es"', targets: [{ queue: spanish.sid }] },
        { filter_friendly_name: 'English', expression: 'selected_language=="en"', targets: [{ queue: english.sid }] },
      ],
      default_filter: { queue: english.sid },
    },
  }),
});
console.log(`workflow ${workflow.sid} routes Spanish to ${spanish.sid}, English to ${english.sid}`);

step('A Spanish-speaking caller creates a task while every worker is Offline');
const task = await tr.tasks.create({
  workflowSid: workflow.sid,
  attributes: JSON.stringify({ selected_language: 'es' }),
});
await sleep(200);
const waiting = await tr.tasks(task.sid).fetch();
console.log(`task ${task.sid} is ${waiting.assignmentStatus} in ${waiting.taskQueueFriendlyName}`);
if (waiting.assignmentStatus !== 'pending') throw new Error('the task should wait while Alice is Offline');

step('Alice goes Idle: TaskRouter reserves her for the task');
await tr.workers(alice.sid).update({ activitySid: activities.Idle.sid });
const reservation = await until('a reservation', async () => {
  const list = await tr.tasks(task.sid).reservations.list({ reservationStatus: 'pending' });
  return list[0];
});
console.log(`reservation ${reservation.sid} for ${reservation.workerName} is ${reservation.reservationStatus}`);
if (reservation.workerSid !== alice.sid) throw new Error('only Alice speaks Spanish');
console.log(`Alice is now ${(await tr.workers(alice.sid).fetch()).activityName}`);

step('Accept the reservation over REST');
const accepted = await tr.tasks(task.sid).reservations(reservation.sid).update({ reservationStatus: 'accepted' });
const assigned = await tr.tasks(task.sid).fetch();
const busy = await tr.workers(alice.sid).fetch();
console.log(`reservation ${accepted.reservationStatus}; task ${assigned.assignmentStatus}; Alice ${busy.activityName}`);
if (assigned.assignmentStatus !== 'assigned' || busy.activityName !== 'Busy') {
  throw new Error('the accepted task should be assigned and Alice Busy');
}

step('What TaskRouter recorded');
for (const e of await tr.events.list({ taskSid: task.sid })) {
  console.log(`${e.eventDate.toISOString()}  ${e.eventType.padEnd(24)} ${e.description}`);
}
console.log('\nquickstart complete');
