// The meeting bar in the group's room: while a meeting runs, every client shows the item
// being discussed ("Item 3 of 6: Falls response times – for decision") and how long the
// meeting has run. Item changes are announced through the polite live region. The page
// already shows the bar without JavaScript; this only keeps it current.

import { send, room, announce } from './room.js';
import { el } from './dom.js';

const bar = document.getElementById('meeting-bar');
const heading = document.getElementById('meeting-bar-heading');
const now = document.getElementById('meeting-now');
const clock = document.getElementById('meeting-clock');
let startedAt = bar && bar.dataset.started ? Number(bar.dataset.started) : null;
let meetingTitle = heading && heading.querySelector('a') ? heading.querySelector('a').textContent : '';

function minutesWords(ms) {
  const mins = Math.max(0, Math.floor(ms / 60000));
  if (mins < 1) return 'just started';
  if (mins < 60) return `running for ${mins} minute${mins === 1 ? '' : 's'}`;
  const h = Math.floor(mins / 60);
  const m = mins % 60;
  return `running for ${h} hour${h === 1 ? '' : 's'}${m ? ` ${m} minute${m === 1 ? '' : 's'}` : ''}`;
}

function tick() {
  if (clock && startedAt) clock.textContent = `The meeting is ${minutesWords(Date.now() - startedAt)}.`;
}

function itemWords(total, item) {
  return `Item ${item.number} of ${total}: ${item.title} – ${item.kind_words}`;
}

function showLive(meetingId, title, total, item) {
  if (!bar) return;
  bar.classList.add('is-live');
  meetingTitle = title || meetingTitle;
  bar.dataset.meeting = String(meetingId);
  heading.textContent = 'Meeting now: ';
  const a = el('a', '', meetingTitle || 'the meeting');
  a.href = `/g/${room}/meetings/${meetingId}`;
  heading.append(a);
  if (item) now.textContent = itemWords(total, item);
  tick();
}

async function refresh(meetingId, say) {
  try {
    const got = await send('meeting.get', { meeting: meetingId });
    const m = got.meeting;
    if (m.live) {
      startedAt = m.live.started_at;
      showLive(m.meeting.id, m.meeting.title, m.live.total, m.live.item);
      if (say) announce(`Meeting: now on ${itemWords(m.live.total, m.live.item)}`);
    }
  } catch (err) {
    // the bar keeps what the page showed; nothing is lost
  }
}

function handle(ev) {
  if (ev.room !== room) return;
  const data = ev.data || {};
  switch (ev.type) {
    case 'meeting.started':
      startedAt = data.started_at;
      showLive(data.id, data.title, 0, null);
      announce(`The meeting has started: ${data.title}`);
      break;
    case 'meeting.item':
      if (data.item) {
        showLive(data.meeting, meetingTitle, data.total, data.item);
        announce(`Meeting: now on ${itemWords(data.total, data.item)}`);
      }
      break;
    case 'meeting.ended':
      startedAt = null;
      bar.classList.remove('is-live');
      heading.textContent = 'The meeting has ended';
      now.textContent = '';
      {
        const a = el('a', '', 'Read the catch-up pack');
        a.href = `/g/${room}/meetings/${data.id}/pack`;
        now.append(a);
      }
      if (clock) clock.textContent = '';
      announce('The meeting has ended. The catch-up pack is ready to read.');
      break;
    default:
  }
}

if (bar && room) {
  document.addEventListener('cfn:event', (e) => handle(e.detail));
  document.addEventListener('cfn:ready', () => {
    // after a dropped connection the replay brings missed events; re-read to be sure
    if (bar.dataset.meeting) refresh(Number(bar.dataset.meeting), false);
  });
  tick();
  setInterval(tick, 30000);
}
