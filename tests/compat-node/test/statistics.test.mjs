// Statistics: every TaskRouter statistics endpoint (workspace, task queue, queue list and bulk,
// workers, one worker, workflow; `Statistics`, `RealTimeStatistics`, `CumulativeStatistics`)
// through the official SDK, after a lifecycle scripted on the manual clock.
//
// Expected values are worked out by hand from the script below (the same lifecycle as the
// server's own crates/switchyard-server/tests/api/statistics.rs). Response fields come from
// the spec's components.schemas (twilio_taskrouter_v1.json) and taskrouter-api.md §2.11.
//
// The server runs with `--clock manual`: time moves only through POST /_switchyard/Clock
// (`Advance=<seconds>` or `Time=<ISO date>`), and timers due on the way fire then.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useServer, sidPattern, newWorkspace, expectRestError, assertWireDate, camel, fakeSid,
} from '../harness.mjs';

const ctx = useServer({ serverArgs: ['--clock', 'manual'] });

// components.schemas of the spec, one list per statistics resource.
const RESERVATION_COUNTERS = ['reservations_created', 'reservations_accepted', 'reservations_rejected', 'reservations_timed_out', 'reservations_canceled', 'reservations_rescinded'];
const SPEC_FIELDS = {
  workspace_statistics: ['realtime', 'cumulative', 'account_sid', 'workspace_sid', 'url'],
  workspace_real_time_statistics: ['account_sid', 'activity_statistics', 'longest_task_waiting_age', 'longest_task_waiting_sid', 'tasks_by_priority', 'tasks_by_status', 'total_tasks', 'total_workers', 'workspace_sid', 'url'],
  workspace_cumulative_statistics: ['account_sid', 'avg_task_acceptance_time', 'start_time', 'end_time', ...RESERVATION_COUNTERS, 'split_by_wait_time', 'wait_duration_until_accepted', 'wait_duration_until_canceled', 'tasks_canceled', 'tasks_completed', 'tasks_created', 'tasks_deleted', 'tasks_moved', 'tasks_timed_out_in_workflow', 'workspace_sid', 'url'],
  task_queue_statistics: ['account_sid', 'cumulative', 'realtime', 'task_queue_sid', 'workspace_sid', 'url'],
  task_queues_statistics: ['account_sid', 'cumulative', 'realtime', 'task_queue_sid', 'workspace_sid'],
  task_queue_real_time_statistics: ['account_sid', 'activity_statistics', 'longest_task_waiting_age', 'longest_task_waiting_sid', 'longest_relative_task_age_in_queue', 'longest_relative_task_sid_in_queue', 'task_queue_sid', 'tasks_by_priority', 'tasks_by_status', 'total_available_workers', 'total_eligible_workers', 'total_tasks', 'workspace_sid', 'url'],
  task_queue_cumulative_statistics: ['account_sid', 'avg_task_acceptance_time', 'start_time', 'end_time', ...RESERVATION_COUNTERS, 'split_by_wait_time', 'task_queue_sid', 'wait_duration_until_accepted', 'wait_duration_until_canceled', 'wait_duration_in_queue_until_accepted', 'tasks_canceled', 'tasks_completed', 'tasks_deleted', 'tasks_entered', 'tasks_moved', 'workspace_sid', 'url'],
  task_queue_bulk_real_time_statistics: ['account_sid', 'workspace_sid', 'task_queue_data', 'task_queue_response_count', 'url'],
  worker_statistics: ['realtime', 'cumulative', 'account_sid', 'workspace_sid', 'url'],
  workers_real_time_statistics: ['account_sid', 'activity_statistics', 'total_workers', 'workspace_sid', 'url'],
  workers_cumulative_statistics: ['account_sid', 'start_time', 'end_time', 'activity_durations', ...RESERVATION_COUNTERS, 'workspace_sid', 'url'],
  worker_instance_statistics: ['account_sid', 'cumulative', 'worker_sid', 'workspace_sid', 'url'],
  workflow_statistics: ['account_sid', 'cumulative', 'realtime', 'workflow_sid', 'workspace_sid', 'url'],
  workflow_real_time_statistics: ['account_sid', 'longest_task_waiting_age', 'longest_task_waiting_sid', 'tasks_by_priority', 'tasks_by_status', 'total_tasks', 'workflow_sid', 'workspace_sid', 'url'],
  workflow_cumulative_statistics: ['account_sid', 'avg_task_acceptance_time', 'start_time', 'end_time', ...RESERVATION_COUNTERS, 'split_by_wait_time', 'wait_duration_until_accepted', 'wait_duration_until_canceled', 'tasks_canceled', 'tasks_completed', 'tasks_entered', 'tasks_deleted', 'tasks_moved', 'tasks_timed_out_in_workflow', 'workflow_sid', 'workspace_sid', 'url'],
};
// Per-queue objects of the bulk response (taskrouter-api.md §2.11 and the spec's example).
const BULK_ITEM_FIELDS = ['task_queue_sid', 'total_available_workers', 'total_eligible_workers', 'total_tasks', 'longest_task_waiting_age', 'longest_task_waiting_sid', 'tasks_by_status', 'tasks_by_priority', 'activity_statistics'];

/**
 * The server's JSON carries every spec field of `kind`, and the SDK instance's properties are
 * exactly those fields camel-cased, none of them `undefined` (a field the server leaves out
 * shows up as `undefined`). Dates are YYYY-MM-DDTHH:MM:SSZ on the wire and Dates in the SDK.
 */
function checkFields(kind, instance, raw) {
  const fields = SPEC_FIELDS[kind];
  assert.deepEqual(fields.filter((f) => !(f in raw)), [], `${kind}: spec fields missing from the server's JSON`);
  assert.deepEqual(Object.keys(instance.toJSON()).sort(), fields.map(camel).sort(), `${kind}: SDK properties`);
  for (const f of fields) {
    assert.notEqual(instance[camel(f)], undefined, `${kind}.${camel(f)} is undefined on the SDK instance`);
  }
  for (const f of ['start_time', 'end_time'].filter((x) => fields.includes(x))) {
    assertWireDate(raw[f], `${kind}.${f}`);
    assert.ok(instance[camel(f)] instanceof Date, `${kind}.${camel(f)} is a Date`);
  }
  assert.equal(raw.account_sid, ctx.accountSid, `${kind}.account_sid`);
}

/** The raw JSON of the SDK's last response. */
const lastBody = () => ctx.client.httpClient.last.body;
/** The query parameters of the SDK's last request. */
const lastParams = () => ctx.client.httpClient.last.params ?? {};

/** GET or POST /_switchyard/Clock. */
async function clock(form) {
  const r = form
    ? await ctx.raw('POST', '/_switchyard/Clock', { form })
    : await ctx.raw('GET', '/_switchyard/Clock');
  assert.equal(r.status, 200, `/_switchyard/Clock: ${r.text}`);
  return r.json;
}
const advance = (secs) => clock({ Advance: String(secs) });

/** ISO date as Twilio writes it (no milliseconds). */
const wire = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function pendingReservations(tr, taskSid) {
  return tr.tasks(taskSid).reservations.list({ reservationStatus: 'pending' });
}

async function pendingReservation(tr, taskSid) {
  for (let i = 0; i < 50; i++) {
    const list = await pendingReservations(tr, taskSid);
    if (list.length) return list[0];
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no pending reservation for ${taskSid}`);
}

/** activity_statistics as { friendlyName: workers }, checking each entry's SID and shape. */
function workersByActivity(activityStatistics, act) {
  assert.ok(Array.isArray(activityStatistics), `activity_statistics is an array, got ${JSON.stringify(activityStatistics)}`);
  const out = {};
  for (const a of activityStatistics) {
    assert.deepEqual(Object.keys(a).sort(), ['friendly_name', 'sid', 'workers']);
    assert.equal(a.sid, act[a.friendly_name]?.sid, `activity_statistics entry ${JSON.stringify(a)} names an activity of the workspace`);
    assert.equal(typeof a.workers, 'number');
    out[a.friendly_name] = a.workers;
  }
  assert.deepEqual(Object.keys(out).sort(), Object.keys(act).sort(), 'one entry per activity of the workspace');
  return out;
}

/** activity_durations as { friendlyName: {avg, min, max, total} }. */
function durationsByActivity(activityDurations, act) {
  assert.ok(Array.isArray(activityDurations), `activity_durations is an array, got ${JSON.stringify(activityDurations)}`);
  const out = {};
  for (const a of activityDurations) {
    assert.deepEqual(Object.keys(a).sort(), ['avg', 'friendly_name', 'max', 'min', 'sid', 'total']);
    assert.equal(a.sid, act[a.friendly_name]?.sid);
    out[a.friendly_name] = { avg: a.avg, min: a.min, max: a.max, total: a.total };
  }
  assert.deepEqual(Object.keys(out).sort(), Object.keys(act).sort(), 'one entry per activity of the workspace');
  return out;
}

const ZERO = { avg: 0, min: 0, max: 0, total: 0 };
const NO_TASKS = { pending: 0, reserved: 0, assigned: 0, wrapping: 0 };

// ------------------------------------------------------------------ the scripted lifecycle

/**
 * t=0: workspace, queues "Support" (everyone) and "BobOnly" (`name == "bob"`), a workflow to
 * Support, workers alice and bob (Available). T1 is offered to alice, who rejects at t=10;
 * bob is offered T1 then and accepts at t=30. T2 (created at t=30) is offered to alice; her
 * reservation times out at t=150 (TaskReservationTimeout 120) and she moves to the workspace's
 * timeout activity. T2 is canceled at t=160, and T3 (priority 7) is created then and waits.
 * Everything is read at t=165.
 */
test('statistics follow a scripted lifecycle on the manual clock', async (t) => {
  const { client, baseUrl } = ctx;

  // Start on a whole minute so every time in the script is exact to the second.
  const before = await clock();
  assert.equal(before.mode, 'manual', 'the suite starts the server with --clock manual');
  const t0 = (Math.floor(before.now_ms / 60_000) + 2) * 60_000;
  await clock({ Time: wire(t0) });
  const at = (secs) => new Date(t0 + secs * 1000);

  const { ws, act, tr } = await newWorkspace(client);
  const w = `${baseUrl}/v1/Workspaces/${ws.sid}`;
  const queue = await tr.taskQueues.create({ friendlyName: 'Support' });
  const bobQueue = await tr.taskQueues.create({ friendlyName: 'BobOnly', targetWorkers: 'name == "bob"' });
  const workflow = await tr.workflows.create({
    friendlyName: 'Route',
    configuration: JSON.stringify({ task_routing: { default_filter: { queue: queue.sid } } }),
  });
  assert.equal(workflow.taskReservationTimeout, 120);
  const alice = await tr.workers.create({ friendlyName: 'alice', activitySid: act.Available.sid, attributes: '{"name":"alice"}' });
  const bob = await tr.workers.create({ friendlyName: 'bob', activitySid: act.Available.sid, attributes: '{"name":"bob"}' });

  // t=0 .. t=30: T1 rejected by alice, accepted by bob.
  const t1 = await tr.tasks.create({ workflowSid: workflow.sid, attributes: '{"n":1}' });
  const r1 = await pendingReservation(tr, t1.sid);
  assert.equal(r1.workerSid, alice.sid, 'alice, created first, is offered T1 first');
  await advance(10);
  await tr.tasks(t1.sid).reservations(r1.sid).update({ reservationStatus: 'rejected' });
  const r2 = await pendingReservation(tr, t1.sid);
  assert.equal(r2.workerSid, bob.sid);
  await advance(20);
  await tr.tasks(t1.sid).reservations(r2.sid).update({ reservationStatus: 'accepted' });

  // t=30 .. t=150: T2 offered to alice, whose reservation times out.
  const t2 = await tr.tasks.create({ workflowSid: workflow.sid, attributes: '{"n":2}' });
  const r3 = await pendingReservation(tr, t2.sid);
  assert.equal(r3.workerSid, alice.sid);
  const moved = await advance(120);
  assert.equal(moved.now, wire(at(150)));
  assert.ok(
    moved.fired.some((f) => f.timer === 'reservation.timeout' && f.task_sid === t2.sid && f.worker_sid === alice.sid),
    `the reservation timer fired: ${JSON.stringify(moved.fired)}`,
  );
  assert.equal((await pendingReservations(tr, t2.sid)).length, 0);
  assert.equal((await tr.tasks(t2.sid).reservations(r3.sid).fetch()).reservationStatus, 'timeout');
  const aliceNow = await tr.workers(alice.sid).fetch();
  assert.equal(aliceNow.activitySid, ws.timeoutActivitySid, 'alice went to the timeout activity');
  const timeoutActivity = aliceNow.activityName;

  // t=160: T2 canceled, T3 created; read at t=165.
  await advance(10);
  await tr.tasks(t2.sid).update({ assignmentStatus: 'canceled', reason: 'no longer needed' });
  const t3 = await tr.tasks.create({ workflowSid: workflow.sid, attributes: '{"n":3}', priority: 7 });
  assert.equal((await advance(5)).now, wire(at(165)));

  // Workers per activity now: alice in the timeout activity, bob Available (busy with T1).
  const everyoneByActivity = Object.fromEntries(Object.keys(act).map((n) => [n, 0]));
  everyoneByActivity.Available += 1;
  everyoneByActivity[timeoutActivity] += 1;
  const bobByActivity = { ...Object.fromEntries(Object.keys(act).map((n) => [n, 0])), Available: 1 };
  const liveTasks = { pending: 1, reserved: 0, assigned: 1, wrapping: 0 };
  // Default window: the 15 minutes up to t=165.
  const window15 = { start: wire(at(165 - 900)), end: wire(at(165)) };

  await t.test('workspace real-time statistics', async () => {
    const rt = await tr.realTimeStatistics().fetch();
    checkFields('workspace_real_time_statistics', rt, lastBody());
    assert.equal(rt.workspaceSid, ws.sid);
    assert.equal(rt.url, `${w}/RealTimeStatistics`);
    assert.deepEqual(rt.tasksByStatus, liveTasks);
    assert.deepEqual(rt.tasksByPriority, { 0: 1, 7: 1 });
    assert.equal(rt.totalTasks, 2);
    assert.equal(rt.totalWorkers, 2);
    assert.equal(rt.longestTaskWaitingAge, 5, 'T3 has waited 5 s (T2 was canceled, T1 is assigned)');
    assert.equal(rt.longestTaskWaitingSid, t3.sid);
    assert.deepEqual(workersByActivity(rt.activityStatistics, act), everyoneByActivity);

    // TaskChannel narrows the tasks: none of them is a voice task.
    const voice = await tr.realTimeStatistics().fetch({ taskChannel: 'voice' });
    assert.equal(lastParams().TaskChannel, 'voice');
    assert.equal(voice.totalTasks, 0);
    assert.deepEqual(voice.tasksByStatus, NO_TASKS);
    assert.deepEqual(voice.tasksByPriority, {});
    assert.equal(voice.longestTaskWaitingAge, 0);
    assert.equal(voice.longestTaskWaitingSid, null);
    const byDefault = await tr.realTimeStatistics().fetch({ taskChannel: 'default' });
    assert.equal(byDefault.totalTasks, 2);
  });

  await t.test('workspace cumulative statistics: default window, SplitByWaitTime, Minutes, StartDate/EndDate', async () => {
    const cum = await tr.cumulativeStatistics().fetch({ splitByWaitTime: '60' });
    checkFields('workspace_cumulative_statistics', cum, lastBody());
    assert.equal(lastParams().SplitByWaitTime, '60');
    assert.equal(cum.url, `${w}/CumulativeStatistics`);
    assert.equal(lastBody().start_time, window15.start, 'the default window is the last 15 minutes');
    assert.equal(lastBody().end_time, window15.end);
    assert.equal(cum.startTime.getTime(), at(165 - 900).getTime());
    assert.equal(cum.endTime.getTime(), at(165).getTime());
    assert.deepEqual(
      {
        reservationsCreated: cum.reservationsCreated, reservationsAccepted: cum.reservationsAccepted,
        reservationsRejected: cum.reservationsRejected, reservationsTimedOut: cum.reservationsTimedOut,
        reservationsCanceled: cum.reservationsCanceled, reservationsRescinded: cum.reservationsRescinded,
        tasksCreated: cum.tasksCreated, tasksCanceled: cum.tasksCanceled, tasksCompleted: cum.tasksCompleted,
        tasksDeleted: cum.tasksDeleted, tasksMoved: cum.tasksMoved, tasksTimedOutInWorkflow: cum.tasksTimedOutInWorkflow,
        avgTaskAcceptanceTime: cum.avgTaskAcceptanceTime,
      },
      {
        reservationsCreated: 3, reservationsAccepted: 1, reservationsRejected: 1, reservationsTimedOut: 1,
        reservationsCanceled: 0, reservationsRescinded: 0,
        tasksCreated: 3, tasksCanceled: 1, tasksCompleted: 0, tasksDeleted: 0, tasksMoved: 0, tasksTimedOutInWorkflow: 0,
        avgTaskAcceptanceTime: 30,
      },
    );
    // T1 waited 30 s until bob accepted; T2 waited 130 s until it was canceled.
    assert.deepEqual(cum.waitDurationUntilAccepted, { avg: 30, min: 30, max: 30, total: 30 });
    assert.deepEqual(cum.waitDurationUntilCanceled, { avg: 130, min: 130, max: 130, total: 130 });
    assert.deepEqual(cum.splitByWaitTime, {
      60: { below: { tasks_canceled: 0, reservations_accepted: 1 }, above: { tasks_canceled: 1, reservations_accepted: 0 } },
    });

    // Minutes=2: t=45 .. t=165 holds alice's timeout (t=150), T2's cancel and T3's creation (t=160).
    const last2 = await tr.cumulativeStatistics().fetch({ minutes: 2 });
    assert.equal(lastParams().Minutes, 2);
    assert.equal(last2.startTime.getTime(), at(45).getTime());
    assert.equal(last2.endTime.getTime(), at(165).getTime());
    assert.equal(last2.tasksCreated, 1);
    assert.equal(last2.tasksCanceled, 1);
    assert.equal(last2.reservationsCreated, 0);
    assert.equal(last2.reservationsTimedOut, 1);
    assert.equal(last2.reservationsAccepted, 0);
    assert.equal(last2.reservationsRejected, 0);
    assert.deepEqual(last2.waitDurationUntilCanceled, { avg: 130, min: 130, max: 130, total: 130 });
    assert.deepEqual(last2.waitDurationUntilAccepted, ZERO);
    assert.equal(last2.avgTaskAcceptanceTime, 0);

    // StartDate/EndDate (sent by the SDK as YYYY-MM-DDTHH:MM:SSZ): t=5 .. t=35 holds alice's
    // reject and bob's reservation (t=10), bob's accept, T2 and alice's second reservation (t=30).
    const mid = await tr.cumulativeStatistics().fetch({ startDate: at(5), endDate: at(35) });
    assert.equal(lastParams().StartDate, wire(at(5)));
    assert.equal(lastParams().EndDate, wire(at(35)));
    assert.equal(lastBody().start_time, wire(at(5)));
    assert.equal(lastBody().end_time, wire(at(35)));
    assert.equal(mid.tasksCreated, 1);
    assert.equal(mid.reservationsCreated, 2);
    assert.equal(mid.reservationsRejected, 1);
    assert.equal(mid.reservationsAccepted, 1);
    assert.equal(mid.reservationsTimedOut, 0);
    assert.equal(mid.tasksCanceled, 0);
    assert.equal(mid.avgTaskAcceptanceTime, 30);

    // A window that ends before anything happened counts nothing.
    const early = await tr.cumulativeStatistics().fetch({ startDate: at(-1200), endDate: at(-600) });
    assert.equal(early.startTime.getTime(), at(-1200).getTime());
    assert.equal(early.endTime.getTime(), at(-600).getTime());
    assert.equal(early.tasksCreated, 0);
    assert.equal(early.reservationsCreated, 0);
    assert.deepEqual(early.waitDurationUntilAccepted, ZERO);
    assert.deepEqual(early.waitDurationUntilCanceled, ZERO);

    // TaskChannel: no voice tasks in the window.
    const voice = await tr.cumulativeStatistics().fetch({ taskChannel: 'voice' });
    assert.equal(voice.tasksCreated, 0);
    assert.equal(voice.reservationsCreated, 0);
  });

  await t.test('workspace statistics carry both halves', async () => {
    const st = await tr.statistics().fetch({ splitByWaitTime: '60,200' });
    checkFields('workspace_statistics', st, lastBody());
    assert.equal(st.workspaceSid, ws.sid);
    assert.equal(st.url, `${w}/Statistics`);
    // The embedded objects are passed through by the SDK as plain (snake_case) JSON objects.
    assert.deepEqual(st.realtime.tasks_by_status, liveTasks);
    assert.deepEqual(st.realtime.tasks_by_priority, { 0: 1, 7: 1 });
    assert.equal(st.realtime.total_tasks, 2);
    assert.equal(st.realtime.total_workers, 2);
    assert.equal(st.realtime.longest_task_waiting_sid, t3.sid);
    assert.equal(st.realtime.longest_task_waiting_age, 5);
    assert.deepEqual(workersByActivity(st.realtime.activity_statistics, act), everyoneByActivity);
    assert.equal(st.cumulative.tasks_created, 3);
    assert.equal(st.cumulative.tasks_canceled, 1);
    assert.equal(st.cumulative.reservations_created, 3);
    assert.equal(st.cumulative.reservations_timed_out, 1);
    assert.equal(st.cumulative.avg_task_acceptance_time, 30);
    assert.equal(st.cumulative.start_time, window15.start);
    assert.equal(st.cumulative.end_time, window15.end);
    assert.deepEqual(st.cumulative.wait_duration_until_accepted, { avg: 30, min: 30, max: 30, total: 30 });
    assert.deepEqual(st.cumulative.split_by_wait_time, {
      60: { below: { tasks_canceled: 0, reservations_accepted: 1 }, above: { tasks_canceled: 1, reservations_accepted: 0 } },
      200: { below: { tasks_canceled: 1, reservations_accepted: 1 }, above: { tasks_canceled: 0, reservations_accepted: 0 } },
    });
    const last2 = await tr.statistics().fetch({ minutes: 2 });
    assert.equal(last2.cumulative.tasks_created, 1);
    assert.equal(last2.realtime.total_tasks, 2, 'Minutes does not change the real-time half');
  });

  await t.test('task queue real-time, cumulative and combined statistics', async () => {
    const q = tr.taskQueues(queue.sid);
    const rt = await q.realTimeStatistics().fetch();
    checkFields('task_queue_real_time_statistics', rt, lastBody());
    assert.equal(rt.taskQueueSid, queue.sid);
    assert.equal(rt.workspaceSid, ws.sid);
    assert.equal(rt.url, `${w}/TaskQueues/${queue.sid}/RealTimeStatistics`);
    assert.equal(rt.totalEligibleWorkers, 2);
    assert.equal(rt.totalAvailableWorkers, 1, 'bob is in an available activity; alice is not');
    assert.equal(rt.totalTasks, 2);
    assert.deepEqual(rt.tasksByStatus, liveTasks);
    assert.deepEqual(rt.tasksByPriority, { 0: 1, 7: 1 });
    assert.equal(rt.longestTaskWaitingAge, 5);
    assert.equal(rt.longestTaskWaitingSid, t3.sid);
    assert.equal(rt.longestRelativeTaskAgeInQueue, 5);
    assert.equal(rt.longestRelativeTaskSidInQueue, t3.sid);
    assert.deepEqual(workersByActivity(rt.activityStatistics, act), everyoneByActivity);

    // BobOnly: one eligible worker, no tasks; activity_statistics counts its workers only.
    const brt = await tr.taskQueues(bobQueue.sid).realTimeStatistics().fetch();
    assert.equal(brt.taskQueueSid, bobQueue.sid);
    assert.equal(brt.totalEligibleWorkers, 1);
    assert.equal(brt.totalAvailableWorkers, 1);
    assert.equal(brt.totalTasks, 0);
    assert.deepEqual(brt.tasksByStatus, NO_TASKS);
    assert.deepEqual(brt.tasksByPriority, {});
    assert.equal(brt.longestTaskWaitingAge, 0);
    assert.equal(brt.longestTaskWaitingSid, null);
    assert.equal(brt.longestRelativeTaskAgeInQueue, 0);
    assert.equal(brt.longestRelativeTaskSidInQueue, null);
    assert.deepEqual(workersByActivity(brt.activityStatistics, act), bobByActivity);

    const cum = await q.cumulativeStatistics().fetch();
    checkFields('task_queue_cumulative_statistics', cum, lastBody());
    assert.equal(cum.taskQueueSid, queue.sid);
    assert.equal(cum.url, `${w}/TaskQueues/${queue.sid}/CumulativeStatistics`);
    assert.equal(lastBody().start_time, window15.start);
    assert.equal(lastBody().end_time, window15.end);
    assert.equal(cum.tasksEntered, 3);
    assert.equal(cum.tasksCanceled, 1);
    assert.equal(cum.tasksCompleted, 0);
    assert.equal(cum.tasksDeleted, 0);
    assert.equal(cum.tasksMoved, 0);
    assert.equal(cum.reservationsCreated, 3);
    assert.equal(cum.reservationsAccepted, 1);
    assert.equal(cum.reservationsRejected, 1);
    assert.equal(cum.reservationsTimedOut, 1);
    assert.equal(cum.avgTaskAcceptanceTime, 30);
    assert.deepEqual(cum.waitDurationUntilAccepted, { avg: 30, min: 30, max: 30, total: 30 });
    assert.deepEqual(cum.waitDurationUntilCanceled, { avg: 130, min: 130, max: 130, total: 130 });
    assert.deepEqual(cum.waitDurationInQueueUntilAccepted, { avg: 30, min: 30, max: 30, total: 30 });
    assert.ok(cum.splitByWaitTime == null, `no SplitByWaitTime asked, got ${JSON.stringify(cum.splitByWaitTime)}`);
    const split = await q.cumulativeStatistics().fetch({ splitByWaitTime: '10' });
    assert.deepEqual(split.splitByWaitTime, {
      10: { below: { tasks_canceled: 0, reservations_accepted: 0 }, above: { tasks_canceled: 1, reservations_accepted: 1 } },
    });

    const bcum = await tr.taskQueues(bobQueue.sid).cumulativeStatistics().fetch();
    assert.equal(bcum.tasksEntered, 0);
    assert.equal(bcum.reservationsCreated, 0);
    assert.deepEqual(bcum.waitDurationInQueueUntilAccepted, ZERO);

    const both = await q.statistics().fetch();
    checkFields('task_queue_statistics', both, lastBody());
    assert.equal(both.taskQueueSid, queue.sid);
    assert.equal(both.url, `${w}/TaskQueues/${queue.sid}/Statistics`);
    assert.equal(both.realtime.total_eligible_workers, 2);
    assert.equal(both.realtime.total_available_workers, 1);
    assert.equal(both.realtime.total_tasks, 2);
    assert.deepEqual(both.realtime.tasks_by_status, liveTasks);
    assert.equal(both.cumulative.tasks_entered, 3);
    assert.equal(both.cumulative.reservations_accepted, 1);
    assert.deepEqual(both.cumulative.wait_duration_in_queue_until_accepted, { avg: 30, min: 30, max: 30, total: 30 });
  });

  await t.test('paged queue statistics list, FriendlyName filter and paging', async () => {
    const all = await tr.taskQueues.statistics.list();
    assert.equal(all.length, 2);
    const bySid = Object.fromEntries(all.map((s) => [s.taskQueueSid, s]));
    assert.deepEqual(Object.keys(bySid).sort(), [queue.sid, bobQueue.sid].sort());
    const support = bySid[queue.sid];
    assert.equal(support.workspaceSid, ws.sid);
    assert.equal(support.accountSid, ctx.accountSid);
    assert.equal(support.realtime.total_tasks, 2);
    assert.equal(support.realtime.total_eligible_workers, 2);
    assert.deepEqual(support.realtime.tasks_by_status, liveTasks);
    assert.equal(support.cumulative.tasks_entered, 3);
    assert.equal(support.cumulative.reservations_timed_out, 1);
    assert.equal(bySid[bobQueue.sid].realtime.total_eligible_workers, 1);
    assert.equal(bySid[bobQueue.sid].cumulative.tasks_entered, 0);

    const page = await tr.taskQueues.statistics.page({ pageSize: 1 });
    const raw = lastBody();
    assert.equal(raw.meta.key, 'task_queues_statistics');
    assert.equal(raw.meta.page_size, 1);
    assert.equal(raw.task_queues_statistics.length, 1);
    checkFields('task_queues_statistics', page.instances[0], raw.task_queues_statistics[0]);
    const next = await page.nextPage();
    assert.equal(next.instances.length, 1);
    assert.notEqual(next.instances[0].taskQueueSid, page.instances[0].taskQueueSid);

    const only = await tr.taskQueues.statistics.list({ friendlyName: 'BobOnly', minutes: 2 });
    assert.equal(lastParams().FriendlyName, 'BobOnly');
    assert.deepEqual(only.map((s) => s.taskQueueSid), [bobQueue.sid]);
    assert.deepEqual(await tr.taskQueues.statistics.list({ friendlyName: 'nobody' }), []);

    // The window parameters reach every item.
    const [win] = await tr.taskQueues.statistics.list({ friendlyName: 'Support', minutes: 2 });
    assert.equal(win.cumulative.start_time, wire(at(45)));
    assert.equal(win.cumulative.tasks_entered, 1, 'only T3 entered in the last 2 minutes');
  });

  await t.test('bulk real-time statistics of several queues (JSON body)', async () => {
    const unknown = fakeSid('WQ');
    const bulk = await tr.taskQueues.bulkRealTimeStatistics.create({ QueueSids: [queue.sid, bobQueue.sid, unknown] });
    const exchange = client.httpClient.last;
    assert.equal(exchange.method, 'POST');
    assert.equal(exchange.uri, `${w}/TaskQueues/RealTimeStatistics`);
    assert.equal(exchange.headers['Content-Type'], 'application/json', 'the SDK sends the body as JSON');
    assert.equal(exchange.statusCode, 200, 'a read: 200, not 201');
    checkFields('task_queue_bulk_real_time_statistics', bulk, exchange.body);
    assert.equal(bulk.workspaceSid, ws.sid);
    assert.equal(bulk.url, `${w}/TaskQueues/RealTimeStatistics`);
    assert.equal(bulk.taskQueueResponseCount, 3);
    assert.equal(bulk.taskQueueData.length, 3);
    assert.deepEqual(bulk.taskQueueData.map((d) => d.task_queue_sid), [queue.sid, bobQueue.sid, unknown]);
    for (const d of bulk.taskQueueData) {
      assert.deepEqual(BULK_ITEM_FIELDS.filter((f) => !(f in d)), [], `bulk item fields of ${d.task_queue_sid}`);
    }
    const [s, b, u] = bulk.taskQueueData;
    assert.equal(s.total_tasks, 2);
    assert.equal(s.total_eligible_workers, 2);
    assert.equal(s.total_available_workers, 1);
    assert.deepEqual(s.tasks_by_status, liveTasks);
    assert.deepEqual(s.tasks_by_priority, { 0: 1, 7: 1 });
    assert.equal(s.longest_task_waiting_age, 5);
    assert.equal(s.longest_task_waiting_sid, t3.sid);
    assert.deepEqual(workersByActivity(s.activity_statistics, act), everyoneByActivity);
    assert.equal(b.total_tasks, 0);
    assert.equal(b.total_eligible_workers, 1);
    assert.deepEqual(workersByActivity(b.activity_statistics, act), bobByActivity);
    // A well-formed SID that is not a queue of the workspace gets zeroed statistics.
    assert.equal(u.total_tasks, 0);
    assert.equal(u.total_eligible_workers, 0);
    assert.equal(u.total_available_workers, 0);
    assert.deepEqual(u.tasks_by_status, NO_TASKS);
    assert.equal(u.longest_task_waiting_sid, null);

    // The docs' curl example spells the field queueSids.
    const camelBody = await tr.taskQueues.bulkRealTimeStatistics.create({ queueSids: [bobQueue.sid] });
    assert.equal(camelBody.taskQueueResponseCount, 1);
    assert.equal(camelBody.taskQueueData[0].task_queue_sid, bobQueue.sid);

    const withInfo = await tr.taskQueues.bulkRealTimeStatistics.createWithHttpInfo({ QueueSids: [queue.sid] });
    assert.equal(withInfo.statusCode, 200);
    assert.equal(withInfo.body.taskQueueData[0].total_tasks, 2);
  });

  await t.test('workers statistics: real-time, cumulative, combined with filters, one worker', async () => {
    const rt = await tr.workers.realTimeStatistics().fetch();
    checkFields('workers_real_time_statistics', rt, lastBody());
    assert.equal(rt.url, `${w}/Workers/RealTimeStatistics`);
    assert.equal(rt.totalWorkers, 2);
    assert.deepEqual(workersByActivity(rt.activityStatistics, act), everyoneByActivity);

    // Cumulative: stays are clipped to the window and the current one counts up to its end.
    // Available: alice's 150 s (t=0..150, ended by her timeout) and bob's 165 s so far;
    // the timeout activity: alice's 15 s so far (t=150..165).
    const cum = await tr.workers.cumulativeStatistics().fetch();
    checkFields('workers_cumulative_statistics', cum, lastBody());
    assert.equal(cum.url, `${w}/Workers/CumulativeStatistics`);
    assert.equal(lastBody().start_time, window15.start);
    assert.equal(lastBody().end_time, window15.end);
    assert.equal(cum.reservationsCreated, 3);
    assert.equal(cum.reservationsAccepted, 1);
    assert.equal(cum.reservationsRejected, 1);
    assert.equal(cum.reservationsTimedOut, 1);
    assert.equal(cum.reservationsCanceled, 0);
    assert.equal(cum.reservationsRescinded, 0);
    const durations = durationsByActivity(cum.activityDurations, act);
    assert.deepEqual(durations.Available, { avg: 158, min: 150, max: 165, total: 315 });
    assert.deepEqual(durations[timeoutActivity], { avg: 15, min: 15, max: 15, total: 15 });
    for (const name of Object.keys(act).filter((n) => n !== 'Available' && n !== timeoutActivity)) {
      assert.deepEqual(durations[name], ZERO, `${name}: nobody stayed in it`);
    }

    const all = await tr.workers.statistics().fetch();
    checkFields('worker_statistics', all, lastBody());
    assert.equal(all.url, `${w}/Workers/Statistics`);
    assert.equal(all.realtime.total_workers, 2);
    assert.deepEqual(workersByActivity(all.realtime.activity_statistics, act), everyoneByActivity);
    assert.equal(all.cumulative.reservations_created, 3);
    assert.equal(all.cumulative.start_time, window15.start);
    assert.deepEqual(durationsByActivity(all.cumulative.activity_durations, act).Available, { avg: 158, min: 150, max: 165, total: 315 });

    for (const filter of [{ friendlyName: 'bob' }, { taskQueueSid: bobQueue.sid }, { taskQueueName: 'BobOnly' }]) {
      const only = await tr.workers.statistics().fetch(filter);
      const what = JSON.stringify(filter);
      assert.equal(only.realtime.total_workers, 1, `${what}: total_workers`);
      assert.deepEqual(workersByActivity(only.realtime.activity_statistics, act), bobByActivity, what);
      assert.equal(only.cumulative.reservations_created, 1, `${what}: reservations_created`);
      assert.equal(only.cumulative.reservations_accepted, 1, `${what}: reservations_accepted`);
      assert.equal(only.cumulative.reservations_rejected, 0, `${what}: reservations_rejected`);
      assert.deepEqual(durationsByActivity(only.cumulative.activity_durations, act).Available, { avg: 165, min: 165, max: 165, total: 165 }, what);
    }
    const support = await tr.workers.statistics().fetch({ taskQueueSid: queue.sid });
    assert.equal(support.realtime.total_workers, 2);
    const aliceOnly = await tr.workers.statistics().fetch({ friendlyName: 'alice', minutes: 1 });
    assert.equal(aliceOnly.realtime.total_workers, 1);
    assert.equal(aliceOnly.cumulative.reservations_created, 0, 'nothing of alice in the last minute');
    assert.equal(aliceOnly.cumulative.start_time, wire(at(105)));

    const one = await tr.workers(alice.sid).statistics().fetch();
    checkFields('worker_instance_statistics', one, lastBody());
    assert.equal(one.workerSid, alice.sid);
    assert.equal(one.url, `${w}/Workers/${alice.sid}/Statistics`);
    assert.equal(one.cumulative.reservations_created, 2);
    assert.equal(one.cumulative.reservations_rejected, 1);
    assert.equal(one.cumulative.reservations_timed_out, 1);
    assert.equal(one.cumulative.reservations_accepted, 0);
    assert.equal(one.cumulative.start_time, window15.start);
    assert.equal(one.cumulative.end_time, window15.end);
    assert.deepEqual(durationsByActivity(one.cumulative.activity_durations, act).Available, { avg: 150, min: 150, max: 150, total: 150 });
    assert.deepEqual(durationsByActivity(one.cumulative.activity_durations, act)[timeoutActivity], { avg: 15, min: 15, max: 15, total: 15 });
    const bobOne = await tr.workers(bob.sid).statistics().fetch();
    assert.equal(bobOne.cumulative.reservations_created, 1);
    assert.equal(bobOne.cumulative.reservations_accepted, 1);
    const aliceEarly = await tr.workers(alice.sid).statistics().fetch({ startDate: at(0), endDate: at(20) });
    assert.equal(aliceEarly.cumulative.reservations_created, 1, 'only her T1 reservation was created by t=20');
    assert.equal(aliceEarly.cumulative.reservations_rejected, 1);
    assert.equal(aliceEarly.cumulative.reservations_timed_out, 0);
  });

  await t.test('workflow real-time, cumulative and combined statistics', async () => {
    const wf = tr.workflows(workflow.sid);
    const rt = await wf.realTimeStatistics().fetch();
    checkFields('workflow_real_time_statistics', rt, lastBody());
    assert.equal(rt.workflowSid, workflow.sid);
    assert.equal(rt.url, `${w}/Workflows/${workflow.sid}/RealTimeStatistics`);
    assert.equal(rt.totalTasks, 2);
    assert.deepEqual(rt.tasksByStatus, liveTasks);
    assert.deepEqual(rt.tasksByPriority, { 0: 1, 7: 1 });
    assert.equal(rt.longestTaskWaitingAge, 5);
    assert.equal(rt.longestTaskWaitingSid, t3.sid);

    const cum = await wf.cumulativeStatistics().fetch({ splitByWaitTime: '60' });
    checkFields('workflow_cumulative_statistics', cum, lastBody());
    assert.equal(cum.workflowSid, workflow.sid);
    assert.equal(cum.url, `${w}/Workflows/${workflow.sid}/CumulativeStatistics`);
    assert.equal(lastBody().start_time, window15.start);
    assert.equal(lastBody().end_time, window15.end);
    assert.equal(cum.tasksEntered, 3);
    assert.equal(cum.tasksCanceled, 1);
    assert.equal(cum.tasksCompleted, 0);
    assert.equal(cum.tasksTimedOutInWorkflow, 0);
    assert.equal(cum.reservationsCreated, 3);
    assert.equal(cum.reservationsAccepted, 1);
    assert.equal(cum.reservationsRejected, 1);
    assert.equal(cum.reservationsTimedOut, 1);
    assert.equal(cum.avgTaskAcceptanceTime, 30);
    assert.deepEqual(cum.waitDurationUntilAccepted, { avg: 30, min: 30, max: 30, total: 30 });
    assert.deepEqual(cum.waitDurationUntilCanceled, { avg: 130, min: 130, max: 130, total: 130 });
    assert.deepEqual(cum.splitByWaitTime, {
      60: { below: { tasks_canceled: 0, reservations_accepted: 1 }, above: { tasks_canceled: 1, reservations_accepted: 0 } },
    });

    const both = await wf.statistics().fetch();
    checkFields('workflow_statistics', both, lastBody());
    assert.equal(both.workflowSid, workflow.sid);
    assert.equal(both.url, `${w}/Workflows/${workflow.sid}/Statistics`);
    assert.equal(both.realtime.total_tasks, 2);
    assert.deepEqual(both.realtime.tasks_by_status, liveTasks);
    assert.equal(both.cumulative.tasks_entered, 3);
    assert.equal(both.cumulative.reservations_created, 3);
    const window = await wf.statistics().fetch({ startDate: at(100), endDate: at(155) });
    assert.equal(window.cumulative.reservations_timed_out, 1);
    assert.equal(window.cumulative.tasks_entered, 0);
    assert.equal(window.cumulative.start_time, wire(at(100)));
  });
});

// ------------------------------------------------------------------ an empty workspace

test('a workspace with no tasks and no workers reports zeros everywhere', async () => {
  const { client } = ctx;
  const { ws, act, tr } = await newWorkspace(client);
  const queue = await tr.taskQueues.create({ friendlyName: 'Empty' });
  const workflow = await tr.workflows.create({
    friendlyName: 'Empty',
    configuration: JSON.stringify({ task_routing: { default_filter: { queue: queue.sid } } }),
  });
  const none = Object.fromEntries(Object.keys(act).map((n) => [n, 0]));

  const rt = await tr.realTimeStatistics().fetch();
  assert.equal(rt.totalTasks, 0);
  assert.equal(rt.totalWorkers, 0);
  assert.deepEqual(rt.tasksByStatus, NO_TASKS);
  assert.deepEqual(rt.tasksByPriority, {});
  assert.equal(rt.longestTaskWaitingAge, 0);
  assert.equal(rt.longestTaskWaitingSid, null);
  assert.deepEqual(workersByActivity(rt.activityStatistics, act), none);

  const cum = await tr.cumulativeStatistics().fetch();
  for (const f of ['reservationsCreated', 'reservationsAccepted', 'tasksCreated', 'tasksCanceled', 'avgTaskAcceptanceTime']) {
    assert.equal(cum[f], 0, f);
  }
  assert.deepEqual(cum.waitDurationUntilAccepted, ZERO);
  assert.deepEqual(cum.waitDurationUntilCanceled, ZERO);
  assert.equal(cum.endTime.getTime() - cum.startTime.getTime(), 15 * 60_000, 'the default window is 15 minutes');

  const qrt = await tr.taskQueues(queue.sid).realTimeStatistics().fetch();
  assert.equal(qrt.totalEligibleWorkers, 0);
  assert.equal(qrt.totalTasks, 0);
  assert.equal(qrt.longestRelativeTaskSidInQueue, null);
  const wrt = await tr.workers.realTimeStatistics().fetch();
  assert.equal(wrt.totalWorkers, 0);
  assert.deepEqual(workersByActivity(wrt.activityStatistics, act), none);
  const wcum = await tr.workers.cumulativeStatistics().fetch();
  for (const d of Object.values(durationsByActivity(wcum.activityDurations, act))) assert.deepEqual(d, ZERO);
  const wfrt = await tr.workflows(workflow.sid).realTimeStatistics().fetch();
  assert.equal(wfrt.totalTasks, 0);
  assert.deepEqual(wfrt.tasksByStatus, NO_TASKS);
  const list = await tr.taskQueues.statistics.list();
  assert.deepEqual(list.map((s) => s.taskQueueSid), [queue.sid]);
  assert.equal(list[0].realtime.total_tasks, 0);
});

// ------------------------------------------------------------------ errors

test('bad parameters are 400 and unknown resources 404, as RestExceptions', async () => {
  const { client } = ctx;
  const { ws, tr } = await newWorkspace(client);
  const queue = await tr.taskQueues.create({ friendlyName: 'Q' });
  const workflow = await tr.workflows.create({
    friendlyName: 'F',
    configuration: JSON.stringify({ task_routing: { default_filter: { queue: queue.sid } } }),
  });

  await expectRestError(tr.cumulativeStatistics().fetch({ minutes: -1 }), { status: 400, code: 20001, message: /Minutes/ });
  await expectRestError(tr.statistics().fetch({ minutes: -1 }), { status: 400, code: 20001 });
  await expectRestError(tr.taskQueues(queue.sid).cumulativeStatistics().fetch({ minutes: -1 }), { status: 400, code: 20001 });
  await expectRestError(tr.workers.statistics().fetch({ minutes: -1 }), { status: 400, code: 20001 });
  await expectRestError(tr.workflows(workflow.sid).statistics().fetch({ minutes: -1 }), { status: 400, code: 20001 });
  await expectRestError(tr.statistics().fetch({ splitByWaitTime: '5,x' }), { status: 400, code: 20001, message: /SplitByWaitTime/ });
  // StartDate more than 30 days back: 400 (Twilio, since 2021-11-30; debugger code 14241).
  const { now_ms: nowMs } = await clock();
  await expectRestError(
    tr.cumulativeStatistics().fetch({ startDate: new Date(nowMs - 40 * 86_400_000) }),
    { status: 400, message: /30 days/ },
  );

  const noQueue = fakeSid('WQ');
  await expectRestError(tr.taskQueues(noQueue).realTimeStatistics().fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.taskQueues(noQueue).cumulativeStatistics().fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.taskQueues(noQueue).statistics().fetch(), { status: 404, code: 20404 });
  const noWorkflow = fakeSid('WW');
  await expectRestError(tr.workflows(noWorkflow).realTimeStatistics().fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.workflows(noWorkflow).cumulativeStatistics().fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.workflows(noWorkflow).statistics().fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.workers(fakeSid('WK')).statistics().fetch(), { status: 404, code: 20404 });
  const noWs = client.taskrouter.v1.workspaces(fakeSid('WS'));
  await expectRestError(noWs.statistics().fetch(), { status: 404, code: 20404 });
  await expectRestError(noWs.realTimeStatistics().fetch(), { status: 404, code: 20404 });
  await expectRestError(noWs.cumulativeStatistics().fetch(), { status: 404, code: 20404 });
  await expectRestError(noWs.workers.statistics().fetch(), { status: 404, code: 20404 });

  // A queue, workflow or worker of another workspace is not found in this one.
  const other = await newWorkspace(client);
  const otherQueue = await other.tr.taskQueues.create({ friendlyName: 'Q' });
  const otherWorker = await other.tr.workers.create({ friendlyName: 'w' });
  await expectRestError(tr.taskQueues(otherQueue.sid).realTimeStatistics().fetch(), { status: 404, code: 20404 });
  await expectRestError(other.tr.workflows(workflow.sid).statistics().fetch(), { status: 404, code: 20404 });
  await expectRestError(tr.workers(otherWorker.sid).statistics().fetch(), { status: 404, code: 20404 });
  assert.match(ws.sid, sidPattern('WS'));

  // Bulk: 1 to 50 well-formed TaskQueue SIDs.
  const bulk = tr.taskQueues.bulkRealTimeStatistics;
  await expectRestError(bulk.create({ QueueSids: [] }), { status: 400, code: 20001, message: /QueueSids/ });
  await expectRestError(bulk.create({ QueueSids: ['nope'] }), { status: 400, code: 20001, message: /QueueSids/ });
  await expectRestError(bulk.create({ QueueSids: [fakeSid('WW')] }), { status: 400, code: 20001 });
  await expectRestError(bulk.create({ QueueSids: Array.from({ length: 51 }, () => fakeSid('WQ')) }), { status: 400, code: 20001 });
  await expectRestError(bulk.create(), { status: 400, code: 20001, message: /QueueSids/ });
  const fifty = await bulk.create({ QueueSids: [queue.sid, ...Array.from({ length: 49 }, () => fakeSid('WQ'))] });
  assert.equal(fifty.taskQueueResponseCount, 50);
  assert.equal(fifty.taskQueueData[0].task_queue_sid, queue.sid);
});
