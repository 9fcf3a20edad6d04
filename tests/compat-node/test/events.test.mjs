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

test('configuration changes record their events with the field groups of the event reference', async () => {
  const { client, baseUrl } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const w = `${baseUrl}/v1/Workspaces/${ws.sid}`;
  const initial = await tr.events.list();
  assert.equal(initial[0].eventType, 'workspace.created');
  assert.equal(initial[0].resourceType, 'workspace');
  assert.equal(initial[0].resourceSid, ws.sid);

  const activity = await tr.activities.create({ friendlyName: 'Lunch', available: false });
  const queue = await tr.taskQueues.create({ friendlyName: 'Support', targetWorkers: '1==1' });
  await tr.taskQueues(queue.sid).update({ targetWorkers: "skills HAS 'support'" });
  const workflow = await tr.workflows.create({
    friendlyName: 'Route',
    configuration: JSON.stringify({ task_routing: { default_filter: { queue: queue.sid } } }),
  });
  await tr.workflows(workflow.sid).update({ friendlyName: 'Route 2' });
  const channel = await tr.taskChannels.create({ friendlyName: 'Fax', uniqueName: 'fax' });
  const worker = await tr.workers.create({ friendlyName: 'alice' });
  await tr.workers(worker.sid).workerChannels('fax').update({ capacity: 2 });
  await tr.workers(worker.sid).workerChannels('fax').update({ available: false });
  await tr.workers(worker.sid).remove();
  await tr.taskChannels(channel.sid).remove();
  await tr.workflows(workflow.sid).remove();
  await tr.taskQueues(queue.sid).remove();
  await tr.activities(activity.sid).remove();

  const events = (await tr.events.list()).slice(initial.length);
  assert.deepEqual(events.map((e) => e.eventType), [
    'activity.created', 'task-queue.created', 'task-queue.expression.updated',
    'workflow.created', 'workflow.updated', 'task-channel.created', 'worker.created',
    'worker.capacity.update', 'worker.channel.availability.update', 'worker.deleted',
    'task-channel.deleted', 'workflow.deleted', 'task-queue.deleted', 'activity.deleted',
  ]);
  const of = (type) => events.find((e) => e.eventType === type);

  const a = of('activity.created');
  assert.equal(a.resourceType, 'activity');
  assert.equal(a.resourceUrl, `${w}/Activities/${activity.sid}`);
  assert.deepEqual(
    [a.eventData.activity_sid, a.eventData.activity_name, a.eventData.activity_available],
    [activity.sid, 'Lunch', 'false'],
  );
  const q = of('task-queue.expression.updated');
  assert.equal(q.resourceUrl, `${w}/TaskQueues/${queue.sid}`);
  assert.equal(q.eventData.task_queue_target_expression, "skills HAS 'support'");
  assert.equal(of('workflow.updated').eventData.workflow_name, 'Route 2');
  const c = of('task-channel.created');
  assert.equal(c.resourceUrl, `${w}/TaskChannels/${channel.sid}`);
  assert.equal(c.eventData.task_channel_unique_name, 'fax');
  assert.equal(c.eventData.task_channel_name, 'Fax');
  const cap = of('worker.capacity.update');
  assert.equal(cap.resourceSid, worker.sid);
  assert.equal(cap.eventData.worker_channel_previous_capacity, '1');
  assert.equal(cap.eventData.worker_channel_available_capacity, '2');
  const avail = of('worker.channel.availability.update');
  assert.equal(avail.eventData.worker_channel_available, 'false');
  assert.equal(avail.eventData.task_channel_sid, channel.sid);

  const ofWorker = await tr.events.list({ workerSid: worker.sid });
  assert.deepEqual(ofWorker.map((e) => e.eventType), [
    'worker.created', 'worker.capacity.update', 'worker.channel.availability.update', 'worker.deleted',
  ]);
  const created = await tr.events.list({ eventType: 'workflow.created' });
  assert.deepEqual(created.map((e) => e.resourceSid), [workflow.sid]);
});
