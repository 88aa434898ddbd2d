// The idea board and idea page, live: new ideas, supporter counts and status changes
// appear without reloading, and are announced politely. Support buttons work over the
// socket when it is connected; without JavaScript the same forms post and reload.

import { send, room, announce, socket } from './room.js';
import { el, when } from './dom.js';

const LABELS = {
  proposed: 'Proposed',
  discussing: 'Being discussed',
  adopted: 'Adopted',
  in_progress: 'In progress',
  done: 'Done',
  not_taken_forward: 'Not taken forward',
};

const board = document.getElementById('idea-list');
const pageInfo = document.getElementById('idea-page');
const thisIdea = pageInfo ? Number(pageInfo.dataset.idea) : null;
const timeline = document.getElementById('idea-timeline');

function titleOf(id) {
  const card = document.getElementById(`idea-${id}`);
  const h = card ? card.querySelector('h3') : document.querySelector('h1');
  return h ? h.textContent.trim() : 'an idea';
}

function setCount(id, count) {
  for (const node of document.querySelectorAll(`[data-idea-count="${id}"]`)) {
    node.replaceChildren(el('strong', '', String(count)), ` ${count === 1 ? 'supporter' : 'supporters'}`);
  }
}

function setStatus(id, status) {
  for (const node of document.querySelectorAll(`[data-idea-status="${id}"]`)) {
    node.textContent = LABELS[status] || status;
  }
}

function setSupportForm(form, supported, title) {
  const action = form.querySelector('input[name=action]');
  const button = form.querySelector('button');
  action.value = supported ? 'withdraw' : 'support';
  button.className = supported ? 'button secondary' : 'button';
  button.replaceChildren(supported ? 'Withdraw my support' : 'Support this idea',
    el('span', 'visually-hidden', supported ? ` for ${title}` : `: ${title}`));
}

function wireSupport(form) {
  form.addEventListener('submit', async (e) => {
    if (!socket.connected) return; // the plain form still works
    e.preventDefault();
    const id = Number(form.dataset.idea);
    const on = form.querySelector('input[name=action]').value !== 'withdraw';
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const data = await send(on ? 'idea.support' : 'idea.unsupport', { idea: id });
      setCount(id, data.count);
      setSupportForm(form, on, titleOf(id));
    } catch (err) {
      announce(`That did not work: ${err.message || 'please try again.'}`);
    } finally {
      button.disabled = false;
    }
  });
}

function ideaCard(idea) {
  const li = el('li', 'card idea');
  li.id = `idea-${idea.id}`;
  li.dataset.idea = idea.id;
  const h = el('h3');
  const a = el('a', '', idea.title);
  a.href = `/g/${room}/ideas/${idea.id}`;
  h.append(a);
  const meta = el('p', 'idea-meta');
  const tag = el('span', 'status-tag', LABELS[idea.status]);
  tag.dataset.ideaStatus = idea.id;
  const count = el('span', 'idea-count');
  count.dataset.ideaCount = idea.id;
  meta.append(tag, ' · ', count, ` · proposed by ${idea.author.name} on ${when(idea.created_at)}`);
  const form = el('form', 'idea-support');
  form.method = 'post';
  form.action = `/g/${room}/ideas/${idea.id}/support`;
  form.dataset.idea = idea.id;
  const csrf = el('input');
  csrf.type = 'hidden';
  csrf.name = 'csrf';
  csrf.value = document.getElementById('live')?.dataset.csrf || '';
  const action = el('input');
  action.type = 'hidden';
  action.name = 'action';
  const button = el('button');
  button.type = 'submit';
  form.append(csrf, action, button);
  setSupportForm(form, idea.supported, idea.title);
  wireSupport(form);
  li.append(h, meta, form);
  return { li, count };
}

async function ideaCreated(id) {
  if (!board || document.getElementById(`idea-${id}`)) return;
  try {
    const { idea } = await send('idea.get', { idea: id });
    const { li } = ideaCard(idea);
    board.prepend(li);
    setCount(id, idea.supporters);
    announce(`New idea: ${idea.title}`);
  } catch {
    /* shown on the next reload */
  }
}

function addTimeline(data, at) {
  if (!timeline || data.idea !== thisIdea) return;
  const li = el('li');
  const t = el('time', '', when(at));
  t.dateTime = new Date(at).toISOString();
  li.append(el('strong', '', LABELS[data.status] || data.status), ' – ', t, `, ${data.by.name}`);
  if (data.note) li.append(el('div', 'body', data.note));
  timeline.append(li);
}

document.addEventListener('cfn:event', (e) => {
  const ev = e.detail;
  if (ev.room !== room || !ev.type.startsWith('idea.')) return;
  const data = ev.data;
  if (ev.type === 'idea.created') {
    ideaCreated(data.id);
  } else if (ev.type === 'idea.supporters') {
    setCount(data.idea, data.count);
    if (board || data.idea === thisIdea) {
      announce(`${titleOf(data.idea)}: ${data.count} ${data.count === 1 ? 'supporter' : 'supporters'}`);
    }
  } else if (ev.type === 'idea.status') {
    setStatus(data.idea, data.status);
    addTimeline(data, ev.at);
    if (board || data.idea === thisIdea) {
      announce(`${titleOf(data.idea)} is now: ${LABELS[data.status] || data.status}`);
    }
  } else if (ev.type === 'idea.merged') {
    if (board) document.getElementById(`idea-${data.idea}`)?.remove();
    if (data.idea === thisIdea) location.reload();
  }
});

for (const form of document.querySelectorAll('form.idea-support')) wireSupport(form);
