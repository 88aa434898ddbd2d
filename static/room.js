// The live room: one socket per page, shared by every panel of the group (threads here;
// polls and ideas in their own modules). Other modules use:
//   import { send, room, me } from '/static/room.js';
//   document.addEventListener('cfn:event', (e) => e.detail /* {room, seq, type, at, data} */);
//   document.addEventListener('cfn:state', (e) => e.detail /* 'connected' | 'reconnecting' */);
//   document.addEventListener('cfn:ready', …) // joined (again): reload anything that needs it

import { LiveSocket } from './socket.js';
import { Draft, Outbox, newCid } from './outbox.js';
import { renderMarkdown } from './markdown.js';
import { el, when } from './dom.js';

const live = document.getElementById('live');
const cfg = live ? live.dataset : {};
export const room = cfg.room || '';
export const me = { id: Number(cfg.user || 0), name: cfg.name || '' };
const threadId = cfg.thread ? Number(cfg.thread) : null;
const onLastPage = cfg.lastPage === '1';

const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
export const socket = new LiveSocket(`${scheme}//${location.host}/ws`);
const outbox = new Outbox(me.id);
const inFlight = new Set();
const startedHere = new Set(); // threads started on this page while connected: open them

/** Send a command on the room's socket; resolves with the reply data. */
export function send(op, args = {}) {
  return socket.call(op, args);
}

const STATE_WORDS = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
};

// --- small DOM helpers ------------------------------------------------------------------------

function timeNode(ms) {
  const t = el('time', '', when(ms));
  t.dateTime = new Date(ms).toISOString().replace(/\.\d+Z$/, '+00:00');
  return t;
}

const announcer = document.getElementById('announcer');
let announceTimer = null;
const toAnnounce = [];

/** Say something through the polite live region (batched, so bursts stay readable). */
export function announce(text) {
  if (!announcer) return;
  toAnnounce.push(text);
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => {
    announcer.textContent = toAnnounce.splice(0).slice(-3).join('. ');
  }, 400);
}

function short(text, n = 140) {
  const flat = String(text).replace(/\s+/g, ' ').trim();
  return flat.length > n ? `${flat.slice(0, n - 1)}…` : flat;
}

// --- connection state and presence --------------------------------------------------------------

const stateText = document.getElementById('conn-state');
const onlineList = document.getElementById('online-list');
const online = new Map();

function showState(state) {
  if (stateText) {
    stateText.textContent = STATE_WORDS[state] || state;
    stateText.dataset.state = state;
  }
  if (live) live.dataset.state = state;
  if (state !== 'connected') {
    online.clear();
    showOnline();
  }
  const queued = outbox.forRoom(room).length;
  setStatus(state === 'reconnecting' && queued
    ? 'You are offline. What you wrote is saved and will be sent when the connection is back.'
    : '');
  document.dispatchEvent(new CustomEvent('cfn:state', { detail: state }));
}

let loginChecked = 0;

async function checkStillLoggedIn() {
  // A browser cannot tell a refused socket from a lost one: ask for a page instead.
  if (!navigator.onLine || Date.now() - loginChecked < 20000) return;
  loginChecked = Date.now();
  try {
    const r = await fetch('/', { redirect: 'manual', credentials: 'same-origin' });
    if (r.type !== 'opaqueredirect' || document.getElementById('logged-out-note')) return;
    const note = el('p', 'notice');
    note.id = 'logged-out-note';
    const a = el('a', '', 'Log in again');
    a.href = `/login?next=${encodeURIComponent(location.pathname)}`;
    note.append('You have been logged out. ', a, ' to carry on: what you wrote is kept.');
    live.after(note);
  } catch {
    /* offline after all */
  }
}

function showOnline() {
  if (!onlineList) return;
  if (!socket.connected) {
    onlineList.textContent = 'not known while reconnecting';
    return;
  }
  const names = [...online.entries()]
    .map(([id, name]) => (id === me.id ? `${name} (you)` : name))
    .sort((a, b) => a.localeCompare(b));
  onlineList.textContent = names.length ? names.join(', ') : 'just you';
}

async function loadPresence() {
  try {
    const data = await send('presence', { room });
    online.clear();
    for (const m of data.members) online.set(m.id, m.name);
    showOnline();
  } catch {
    /* shown again on the next join */
  }
}

// --- the outbox: written → Sending… → sent ------------------------------------------------------

const statusBox = document.getElementById('composer-status') || document.getElementById('new-thread-status');

function setStatus(text) {
  if (statusBox && statusBox.textContent !== text) statusBox.textContent = text;
}

const RETRY_LATER = new Set(['offline', 'rate_limited', 'internal', 'not_joined']);
const serverTries = new Map(); // cid -> answers that said "try later"

function flush() {
  if (!socket.connected) return;
  for (const item of outbox.forRoom(room)) {
    if (inFlight.has(item.cid)) continue;
    inFlight.add(item.cid);
    send(item.op, item.args).then(
      (data) => {
        inFlight.delete(item.cid);
        outbox.remove(item.cid);
        confirmed(item, data);
      },
      (err) => {
        inFlight.delete(item.cid);
        const tries = (serverTries.get(item.cid) || 0) + (err.code === 'offline' ? 0 : 1);
        serverTries.set(item.cid, tries);
        if (RETRY_LATER.has(err.code) && tries < 5) {
          if (err.code !== 'offline') setTimeout(flush, 3000 * tries);
          return;
        }
        outbox.remove(item.cid);
        failed(item, err);
      },
    );
  }
}

function queue(op, args) {
  const cid = newCid();
  const item = { cid, op, args: { ...args, room, cid }, at: Date.now() };
  if (socket.connected) startedHere.add(cid);
  outbox.add(item);
  return item;
}

// --- thread page -------------------------------------------------------------------------------------

const list = document.getElementById('messages');
const seenIds = new Set();
if (list) {
  for (const li of list.querySelectorAll('li[data-id]')) seenIds.add(Number(li.dataset.id));
}
let seenTimer = null;
let seenUpTo = 0;

function reportSeen(id) {
  seenUpTo = Math.max(seenUpTo, id);
  clearTimeout(seenTimer);
  seenTimer = setTimeout(() => {
    const body = new URLSearchParams({ csrf: cfg.csrf, thread: threadId, message: seenUpTo });
    fetch(`/g/${room}/seen`, { method: 'POST', body, credentials: 'same-origin' }).catch(() => {});
  }, 1500);
}

function messageNode(data, state) {
  const mine = data.author && data.author.id === me.id;
  const li = el('li', `message${mine ? ' mine' : ''}${state === 'sending' ? ' pending' : ''}`);
  if (data.id) {
    li.id = `m${data.id}`;
    li.dataset.id = data.id;
  }
  if (data.cid) li.dataset.cid = data.cid;
  const head = el('p', 'message-head');
  head.append(el('span', 'author', data.author ? data.author.name : me.name));
  if (data.id) {
    const a = el('a', 'when');
    a.href = `/g/${room}/t/${data.thread}/m/${data.id}`;
    a.title = 'Link to this message';
    a.append(timeNode(data.created_at));
    head.append(a);
  } else {
    head.append(el('span', 'when', 'just now'));
  }
  li.append(head);
  const body = el('div', 'body');
  if (data.staff_only) li.append(el('p', 'staff-only-note', 'Shared with staff only: the group\'s staff facilitators and admins can read this, other members cannot.'));
  if (data.deleted) body.append(el('p', 'muted', 'This message was deleted.'));
  else if (data.hidden) body.append(hiddenNote(data.hidden));
  else body.append(renderMarkdown(data.body));
  li.append(body);
  if (state) li.append(el('p', 'msg-state', state === 'sending' ? 'Sending…' : 'Sent'));
  if (data.id && !data.deleted) li.append(messageActions(data, mine));
  return li;
}

/** "Hidden by the chair: personal details", linked to the group's ground rules. */
function hiddenNote(hidden) {
  const p = el('p', 'muted', `Hidden by ${hidden.by}: ${hidden.reason}. `);
  const a = el('a', '', 'Read the ground rules');
  a.href = `/g/${room}/rules`;
  p.append(a);
  return p;
}

/** The same links the page draws: "Report" (others' posts), "Hide" (chairs, facilitators,
 * admins), "Edit" (own), "Remove" (own, or an admin); each opens a page that asks first. */
function messageActions(data, mine) {
  const p = el('p', 'message-actions');
  const base = `/g/${room}/t/${data.thread}/m/${data.id}`;
  const who = mine ? 'your message' : `the message from ${data.author.name}`;
  const open = !data.hidden;
  for (const [word, path, show] of [
    ['Report', 'report', !mine],
    ['Hide', 'hide', cfg.moderate === '1' && open],
    ['Edit', 'edit', mine && open],
    ['Remove', 'remove', (mine || cfg.admin === '1') && open],
  ]) {
    if (!show) continue;
    const a = el('a', 'button secondary', word);
    a.href = `${base}/${path}`;
    a.append(el('span', 'visually-hidden', ` ${who}`));
    p.append(a);
  }
  return p;
}

function pendingNode(cid) {
  return list ? list.querySelector(`li.pending[data-cid="${CSS.escape(cid)}"]`) : null;
}

function addMessage(data) {
  if (!list || data.thread !== threadId) return;
  const mine = data.author && data.author.id === me.id;
  const pending = mine && data.cid ? pendingNode(data.cid) : null;
  if (seenIds.has(data.id)) {
    if (pending) pending.remove();
    return;
  }
  if (!onLastPage) {
    showLaterNotice(data);
    return;
  }
  seenIds.add(data.id);
  const node = messageNode(data, mine ? 'sent' : null);
  if (pending) pending.replaceWith(node);
  else {
    const firstPending = list.querySelector('li.pending');
    list.insertBefore(node, firstPending);
  }
  document.getElementById('no-messages')?.remove();
  if (!mine) announce(`New message from ${data.author.name}: ${short(data.body)}`);
  reportSeen(data.id);
}

function showLaterNotice(data) {
  let note = document.getElementById('later-note');
  if (!note) {
    note = el('p', 'notice new-live');
    note.id = 'later-note';
    list.after(note);
  }
  note.replaceChildren('New messages have arrived. ');
  const a = el('a', '', 'Go to the newest message');
  a.href = `/g/${room}/t/${threadId}/m/${data.id}`;
  note.append(a);
  if (!(data.author && data.author.id === me.id)) announce(`New message from ${data.author.name}`);
}

function changeMessage(type, data) {
  const li = list && list.querySelector(`li[data-id="${Number(data.id)}"]`);
  if (!li) return;
  const body = li.querySelector('.body');
  if (type === 'message.deleted' && !data.hidden) {
    body.replaceChildren(el('p', 'muted', 'This message was deleted.'));
    li.querySelector('.message-actions')?.remove();
  } else if (type === 'message.deleted' || type === 'message.hidden') {
    body.replaceChildren(hiddenNote(data.hidden));
    li.querySelectorAll('.message-actions a:not([href$="/report"])').forEach((a) => a.remove());
    announce(`A message was hidden by ${data.hidden.by}.`);
  } else if (type === 'message.restored') {
    body.replaceChildren(renderMarkdown(data.body));
    announce('A hidden message is shown again.');
  } else {
    body.replaceChildren(renderMarkdown(data.body));
    if (!li.querySelector('.edited')) {
      const edited = el('p', 'muted small edited', 'Edited');
      const actions = li.querySelector('.message-actions');
      if (actions) actions.before(edited);
      else li.append(edited);
    }
  }
}

function showPendingMessage(item) {
  if (!list || item.args.thread !== threadId || !onLastPage || pendingNode(item.cid)) return;
  const node = messageNode({ author: me, body: item.args.body, cid: item.cid }, 'sending');
  list.append(node);
}

async function reloadThread() {
  // The server could not replay what we missed (far behind, or restored from a backup).
  if (!list || !onLastPage) return;
  try {
    const data = await send('history', { room, thread: threadId, limit: 50 });
    for (const m of data.messages) addMessage(m);
  } catch {
    /* the next reconnect tries again */
  }
}

function setupComposer() {
  const form = document.getElementById('composer');
  if (!form) return;
  const box = form.querySelector('textarea');
  const draft = new Draft(me.id, room, threadId);
  // On a touch screen there is no Shift key to hand: Enter makes a new line, Send sends.
  const enterSends = !matchMedia('(pointer: coarse)').matches;
  document.getElementById('composer-hint').hidden = !enterSends;
  if (!box.value) box.value = draft.get();
  box.addEventListener('input', () => draft.set(box.value));
  box.addEventListener('keydown', (e) => {
    if (enterSends && e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = box.value;
    if (!body.trim()) {
      setStatus('Please write a message first.');
      box.focus();
      return;
    }
    const staff = form.querySelector('#staff_only');
    const args = { thread: threadId, body };
    if (staff && staff.checked) args.staff_only = true;
    const item = queue('message.post', args);
    box.value = '';
    if (staff) staff.checked = false;
    draft.set('');
    showPendingMessage(item);
    setStatus(socket.connected ? '' : 'You are offline. Your message is saved and will be sent when the connection is back.');
    flush();
  });
}

// --- room page: the thread list ----------------------------------------------------------------

const threadList = document.getElementById('thread-list');

function threadNode(id, title, author, at, count, pending) {
  const li = el('li', `thread${pending ? ' pending' : ''}`);
  if (id) li.dataset.thread = id;
  const a = el(id ? 'a' : 'span', 'thread-link');
  if (id) a.href = `/g/${room}/t/${id}`;
  a.append(el('span', 'thread-title', title));
  li.append(a);
  const meta = el('p', 'meta');
  if (pending) {
    meta.textContent = 'Sending…';
  } else {
    meta.append(`Started by ${author} · `, el('span', 'count', `${count} message${count === 1 ? '' : 's'}`),
      ' · last message ', timeNode(at));
  }
  li.append(meta);
  return li;
}

function threadCreated(data) {
  if (!threadList || threadList.querySelector(`li[data-thread="${Number(data.id)}"]`)) return;
  const onlyMine = threadList.dataset.mine === '1';
  if (onlyMine && data.author.id !== me.id) {
    announce(`New thread from ${data.author.name}: ${short(data.title)}`);
    return;
  }
  threadList.prepend(threadNode(data.id, data.title, data.author.id === me.id ? 'you' : data.author.name, data.created_at, 0));
  document.getElementById('no-threads')?.remove();
  if (data.author.id !== me.id) announce(`New thread from ${data.author.name}: ${short(data.title)}`);
}

function threadActivity(data) {
  if (!threadList) return;
  const mine = data.author && data.author.id === me.id;
  if (mine && data.cid) {
    threadList.querySelector(`li.pending[data-cid="${CSS.escape(data.cid)}"]`)?.remove();
  }
  const li = threadList.querySelector(`li[data-thread="${Number(data.thread)}"]`);
  if (!li) return;
  const count = li.querySelector('.count');
  if (count) {
    const n = parseInt(count.textContent, 10) + 1;
    count.textContent = `${n} message${n === 1 ? '' : 's'}`;
  }
  li.querySelector('time')?.replaceWith(timeNode(data.created_at));
  if (!mine) {
    const link = li.querySelector('.thread-link');
    let badge = link.querySelector('.badge');
    if (!badge) {
      badge = el('span', 'badge', '0 new');
      link.append(' ', badge);
    }
    badge.textContent = `${parseInt(badge.textContent, 10) + 1} new`;
    const title = li.querySelector('.thread-title').textContent;
    announce(`New message from ${data.author.name} in ${short(title, 60)}`);
  }
  threadList.prepend(li);
}

function showPendingThread(item) {
  if (!threadList || item.op !== 'thread.create') return;
  if (threadList.querySelector(`li.pending[data-cid="${CSS.escape(item.cid)}"]`)) return;
  const li = threadNode(null, item.args.title, me.name, item.at, 0, true);
  li.dataset.cid = item.cid;
  threadList.prepend(li);
}

function setupNewThread() {
  const form = document.getElementById('new-thread');
  if (!form) return;
  const title = form.querySelector('#title');
  const body = form.querySelector('textarea');
  document.getElementById('to-new-thread')?.addEventListener('click', (e) => {
    e.preventDefault();
    form.scrollIntoView({ block: 'start' });
    title.focus();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!title.value.trim() || !body.value.trim()) {
      setStatus('Please write a title and a message first.');
      (title.value.trim() ? body : title).focus();
      return;
    }
    const args = { title: title.value.trim(), body: body.value };
    const staff = form.querySelector('#thread-staff-only');
    if (staff && staff.checked) {
      args.staff_only = true;
      staff.checked = false;
    }
    const item = queue('thread.create', args);
    title.value = '';
    body.value = '';
    showPendingThread(item);
    setStatus(socket.connected ? 'Starting your thread…' : 'You are offline. Your thread is saved and will be started when the connection is back.');
    flush();
  });
}

// --- wiring -------------------------------------------------------------------------------------

function confirmed(item, data) {
  if (item.op === 'message.post') {
    const node = pendingNode(item.cid);
    if (node && !seenIds.has(data.message.id)) {
      addMessage({ id: data.message.id, thread: item.args.thread, author: me, body: item.args.body,
        cid: item.cid, created_at: Date.now() });
    } else if (node) {
      node.remove();
    }
    setStatus('');
  } else if (item.op === 'thread.create') {
    if (startedHere.has(item.cid)) {
      location.assign(`/g/${room}/t/${data.thread.id}`);
      return;
    }
    setStatus('Your thread has been started.');
  }
}

function failed(item, err) {
  const text = item.args.body || '';
  if (item.op === 'message.post') {
    const node = pendingNode(item.cid);
    if (node) {
      const state = node.querySelector('.msg-state');
      state.textContent = `Not sent: ${err.message}`;
      state.classList.add('failed');
      node.classList.remove('pending');
    }
    const box = document.querySelector('#composer textarea');
    if (box && !box.value) box.value = text;
  } else {
    threadList?.querySelector(`li.pending[data-cid="${CSS.escape(item.cid)}"]`)?.remove();
  }
  setStatus(`Not sent: ${err.message}`);
}

// --- a poll opened elsewhere in the group ---------------------------------------------------------

/** A poll just opened: say so, with a link, on every group page that has no poll panel. */
function pollOpened(data) {
  if (document.getElementById('room-polls') || !data.poll) return;
  let box = document.getElementById('poll-opened');
  if (!box) {
    box = el('div', 'notice poll-opened');
    box.id = 'poll-opened';
    live.after(box);
  }
  const note = el('p');
  const a = el('a', '', data.question);
  a.href = `/g/${room}/polls/${data.poll}`;
  note.append('A new poll has opened: ', a);
  box.append(note);
  announce(`A new poll has opened: ${short(data.question)}. The link to it is at the top of the page.`);
}

function handle(ev) {
  document.dispatchEvent(new CustomEvent('cfn:event', { detail: ev }));
  if (ev.room !== room) return;
  const data = ev.data || {};
  switch (ev.type) {
    case 'message.created':
      addMessage(data);
      threadActivity(data);
      break;
    case 'message.edited':
    case 'message.deleted':
    case 'message.hidden':
    case 'message.restored':
      changeMessage(ev.type, data);
      break;
    case 'thread.created':
      threadCreated(data);
      break;
    case 'poll.created':
      pollOpened(data);
      break;
    case 'presence.join':
      online.set(data.id, data.name);
      showOnline();
      break;
    case 'presence.leave':
      online.delete(data.id);
      showOnline();
      break;
    default:
  }
}

if (live && room) {
  live.hidden = false;
  socket.watch(room, Number(cfg.seq), cfg.epoch);
  socket.addEventListener('event', (e) => handle(e.detail));
  socket.addEventListener('state', (e) => showState(e.detail));
  socket.addEventListener('down', checkStillLoggedIn);
  socket.addEventListener('reset', () => {
    if (list) reloadThread();
    else location.reload();
  });
  socket.addEventListener('ready', () => {
    loadPresence();
    flush();
    document.dispatchEvent(new CustomEvent('cfn:ready', { detail: { room } }));
  });
  for (const item of outbox.forRoom(room)) {
    if (item.op === 'message.post') showPendingMessage(item);
    else showPendingThread(item);
  }
  setupComposer();
  setupNewThread();
  showState('connecting');
  socket.connect();
}
