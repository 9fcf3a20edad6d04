// Events: each routing change records an Event (taskrouter-api.md §2.10, §5.6), listed and
// fetched with the official SDK. Fields come from the spec's taskrouter.v1.workspace.event.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, sidPattern, newWorkspace, expectRestError } from '../harness.mjs';

const ctx = useServer();

async function pendingReservation(tr, taskSid) {
  for (let i = 0; i < 50; i++) {
    const list = await tr.tasks(taskSid).reservations.list({ reservationStatus: 'pending' });
    if (list.length) return list[0];
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no pending reservation for ${taskSid}`);
}

test('a routed task records its events in order; list filters and fetch work through the SDK', async () => {
  const { client, baseUrl, accountSid } = ctx;
  const { ws, act, tr } = await newWorkspace(client);
  const queue = await tr.taskQueues.create({ friendlyName: 'Support' });
  const workflow = await tr.workflows.create({
    friendlyName: 'Route',
    configuration: JSON.stringify({ task_routing: { default_filter: { queue: queue.sid } } }),
  });
  const worker = await tr.workers.create({ friendlyName: 'alice', activitySid: act.Available.sid });
  const task = await tr.tasks.create({ attributes: JSON.stringify({ topic: 'billing' }), workflowSid: workflow.sid });
  const r = await pendingReservation(tr, task.sid);
  await tr.tasks(task.sid).reservations(r.sid).update({ reservationStatus: 'accepted' });
  await tr.tasks(task.sid).update({ assignmentStatus: 'completed', reason: 'resolved' });

  const events = await tr.events.list({ taskSid: task.sid });
  assert.deepEqual(events.map((e) => e.eventType), [
    'task.created', 'workflow.entered', 'workflow.target-matched', 'task-queue.entered',
    'reservation.created', 'reservation.accepted', 'task.completed', 'reservation.completed',
  ]);
  const accepted = events.find((e) => e.eventType === 'reservation.accepted');
  const w = `${baseUrl}/v1/Workspaces/${ws.sid}`;
  assert.match(accepted.sid, sidPattern('EV'));
  assert.equal(accepted.accountSid, accountSid);
  assert.equal(accepted.workspaceSid, ws.sid);
  assert.equal(accepted.resourceType, 'reservation');
  assert.equal(accepted.resourceSid, r.sid);
  assert.equal(accepted.resourceUrl, `${w}/Tasks/${task.sid}/Reservations/${r.sid}`);
  assert.equal(accepted.actorType, 'workspace');
  assert.equal(accepted.url, `${w}/Events/${accepted.sid}`);
  assert.equal(typeof accepted.eventDateMs, 'number');
  assert.ok(accepted.eventDate instanceof Date && !Number.isNaN(accepted.eventDate.getTime()));
  assert.equal(typeof accepted.eventData, 'object', 'event_data is a JSON object');
  assert.equal(accepted.eventData.task_sid, task.sid);
  assert.equal(accepted.eventData.worker_sid, worker.sid);
  assert.equal(accepted.eventData.worker_name, 'alice');
  assert.equal(accepted.eventData.task_queue_sid, queue.sid);
  assert.equal(accepted.eventData.workflow_sid, workflow.sid);
  assert.equal(accepted.eventData.workspace_name, ws.friendlyName);
  const completed = events.find((e) => e.eventType === 'task.completed');
  assert.equal(completed.eventData.task_completed_reason, 'resolved');

  const fetched = await tr.events(accepted.sid).fetch();
  assert.equal(fetched.sid, accepted.sid);
  assert.deepEqual(fetched.eventData, accepted.eventData);
  await expectRestError(tr.events('EV' + '0'.repeat(32)).fetch(), { status: 404, code: 20404 });

  const created = await tr.events.list({ eventType: 'reservation.created', workerSid: worker.sid });
  assert.equal(created.length, 1);
  assert.equal((await tr.events.list({ reservationSid: r.sid })).length, 3);
  assert.equal((await tr.events.list({ workflowSid: workflow.sid, eventType: 'workflow.entered' })).length, 1);
  assert.equal((await tr.events.list({ taskQueueSid: queue.sid, eventType: 'task-queue.entered' })).length, 1);
  assert.equal((await tr.events.list({ taskChannel: 'default', eventType: 'task.created' })).length, 1);
  assert.equal((await tr.events.list({ minutes: 5, taskSid: task.sid })).length, 8);
  const future = new Date(Date.now() + 3_600_000);
  assert.equal((await tr.events.list({ startDate: future, taskSid: task.sid })).length, 0);
  const page = await tr.events.page({ taskSid: task.sid, pageSize: 3 });
  assert.equal(page.instances.length, 3);
  const next = await page.nextPage();
  assert.equal(next.instances[0].eventType, 'task-queue.entered');
});
