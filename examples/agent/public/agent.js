// The agent's side: sign in for a token, connect Twilio's Worker SDK (window.TaskRouter, served
// by this example's server) to Switchyard, set the activity, and answer reservations.
'use strict';

const $ = (id) => document.getElementById(id);
let worker = null;
const cards = new Map(); // reservation SID → its <li>

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

async function signIn(identity) {
  const res = await fetch('/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ identity }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.message);
  return body;
}

function renderActivities() {
  const group = $('activities');
  group.replaceChildren();
  for (const activity of worker.activities.values()) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = activity.name;
    button.setAttribute('aria-pressed', String(activity.isCurrent));
    button.addEventListener('click', () => run(() => activity.setAsCurrent()));
    group.append(button);
  }
  $('who').textContent = `${worker.friendlyName} · ${worker.activity.name}`;
}

function renderReservation(reservation) {
  let card = cards.get(reservation.sid);
  if (!card) {
    card = $('reservation').content.firstElementChild.cloneNode(true);
    card.dataset.sid = reservation.sid;
    card.querySelector('.accept').addEventListener('click', () => run(() => reservation.accept()));
    card.querySelector('.reject').addEventListener('click', () => run(() => reservation.reject()));
    card.querySelector('.complete').addEventListener('click', () => run(() => reservation.task.complete('completed by the agent')));
    cards.set(reservation.sid, card);
    $('reservations').prepend(card);
  }
  const { task } = reservation;
  card.querySelector('.task').textContent = `${task.sid} from ${task.queueName}`;
  card.querySelector('.state').textContent = reservation.status;
  card.querySelector('.attributes').textContent = JSON.stringify(task.attributes, null, 2);
  card.dataset.status = reservation.status;
  const pending = reservation.status === 'pending';
  card.querySelector('.accept').hidden = !pending;
  card.querySelector('.reject').hidden = !pending;
  card.querySelector('.complete').hidden = reservation.status !== 'accepted';
  $('no-reservations').hidden = cards.size > 0;
}

function watchReservation(reservation) {
  renderReservation(reservation);
  for (const event of ['accepted', 'rejected', 'timeout', 'canceled', 'rescinded', 'wrapup', 'completed']) {
    reservation.on(event, () => renderReservation(reservation));
  }
}

// Runs an SDK call from a button, reporting a failure instead of losing it.
async function run(action) {
  try {
    await action();
    status('');
  } catch (err) {
    status(err.message || String(err), true);
  }
}

function connect({ token, ebServer, wsServer }) {
  worker = new window.TaskRouter.Worker(token, { ebServer, wsServer, logLevel: 'warn' });
  worker.on('ready', () => {
    $('sign-in').hidden = true;
    $('desk').hidden = false;
    $('who').hidden = false;
    renderActivities();
    for (const reservation of worker.reservations.values()) watchReservation(reservation);
    status('Connected.');
  });
  worker.on('activityUpdated', renderActivities);
  worker.on('reservationCreated', watchReservation);
  worker.on('tokenWillExpire', async () => {
    const renewed = await signIn(worker.friendlyName);
    worker.updateToken(renewed.token);
  });
  worker.on('disconnected', () => status('Disconnected: reconnecting…', true));
  worker.on('error', (err) => status(err.message || String(err), true));
}

$('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    status('Signing in…');
    connect(await signIn($('identity').value));
  } catch (err) {
    status(err.message, true);
  }
});
