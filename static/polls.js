// Live polls in the room (and on the polls page): facilitators open and close polls, members
// vote, and every poll's results redraw as votes arrive, as a bar chart whose numbers and
// percentages are written out, announced politely to screen readers.
// The server decides what each member may see (live / after voting / at close), so each
// update re-reads the poll with `poll.get` rather than trusting what a broadcast carries.

import { send, room, announce } from './room.js';
import { el } from './dom.js';

const list = document.getElementById('room-polls'); // the room page's panel
const empty = document.getElementById('room-polls-empty');
const onPollsPage = !list && document.querySelector('.poll[id^="poll-"]') !== null;
const cards = new Map(); // poll id -> { card, poll }
const timers = new Map();

const SOURCE = { on_behalf: 'by phone (entered for them)', in_room: 'in the room' };

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function rows(poll) {
  const total = poll.counts.reduce((a, b) => a + b, 0);
  return poll.options.map((label, i) => ({
    label,
    count: poll.counts[i],
    pct: total ? Math.round((100 * poll.counts[i]) / total) : 0,
    online: poll.online[i],
    on_behalf: poll.on_behalf[i],
    in_room: poll.in_room[i],
  }));
}

/** Why the counts are not shown yet: the same words as server/poll_pages.py `hidden_words`. */
function hiddenWords(poll) {
  if (poll.anonymous && !poll.closed && poll.voters < (poll.privacy_threshold || 0)) {
    return `The results are shown once ${poll.privacy_threshold} members have voted,`
      + ' so no one can work out how someone voted.';
  }
  return poll.results === 'after_vote'
    ? 'You will see the results after you vote.'
    : 'The results are shown when the poll closes.';
}

/** The results block: the same markup as templates/_polls_macros.html `results`. */
function resultsNode(poll) {
  const box = el('div', 'poll-results');
  box.dataset.pollResults = poll.id;
  if (poll.results_visible && poll.counts) {
    const r = rows(poll);
    const total = el('p', 'poll-total');
    total.append(el('strong', '', String(poll.voters)),
      ` member${poll.voters === 1 ? '' : 's'} voted`
      + (r.some((x) => x.in_room) ? ', plus the show of hands in the room.' : '.'));
    box.append(total);
    const chart = el('ul', 'bar-chart');
    chart.setAttribute('aria-label', `Results: ${poll.question}`);
    for (const x of r) {
      const li = el('li', 'bar-row');
      const figures = el('span', 'bar-figures');
      figures.append(el('strong', '', String(x.count)), ` ${x.count === 1 ? 'vote' : 'votes'}, `,
        el('strong', '', `${x.pct}%`));
      const bar = el('span', 'bar');
      bar.setAttribute('aria-hidden', 'true');
      bar.append(el('span', `bar-fill bar-${x.pct}`));
      li.append(el('span', 'bar-label', x.label), figures, bar);
      if (x.on_behalf || x.in_room) {
        let words = `${x.online} online`;
        if (x.on_behalf) words += `, ${x.on_behalf} ${SOURCE.on_behalf}`;
        if (x.in_room) words += `, ${x.in_room} ${SOURCE.in_room}`;
        li.append(el('span', 'bar-sources', words));
      }
      chart.append(li);
    }
    box.append(chart);
    if (poll.named && poll.named.length) {
      const details = el('details', 'poll-named');
      details.append(el('summary', '', 'Who chose what'));
      const ul = el('ul');
      for (const n of poll.named) {
        const li = el('li', '', `${n.member.name}: ${n.choices.map((c) => poll.options[c]).join(', ')}`);
        if (n.entered_by) li.append(' ', el('span', 'muted', `(entered by ${n.entered_by.name})`));
        ul.append(li);
      }
      details.append(ul);
      box.append(details);
    }
  } else {
    const who = `${plural(poll.voters, 'member', 'members')} voted so far.`;
    box.append(el('p', 'poll-hidden', `${who} ${hiddenWords(poll)}`));
  }
  return box;
}

function summary(poll) {
  if (!poll.results_visible || !poll.counts) return `${plural(poll.voters, 'member', 'members')} voted`;
  return rows(poll).map((x) => `${x.label}: ${plural(x.count, 'vote', 'votes')}, ${x.pct}%`).join('; ');
}

function closesWords(ms) {
  // UK time, as the page itself says it: "Tuesday 8 December at 7:00 pm"
  const d = new Date(ms);
  const day = d.toLocaleDateString('en-GB', { timeZone: 'Europe/London', weekday: 'long', day: 'numeric', month: 'long' });
  const at = d.toLocaleTimeString('en-GB', { timeZone: 'Europe/London', hour: 'numeric', minute: '2-digit', hour12: true });
  return `${day} at ${at}`;
}

function aboutText(poll) {
  return [
    poll.kind === 'single' ? 'Choose one answer' : 'Choose one or more answers',
    poll.anonymous ? 'Anonymous: no one sees who chose what' : 'Named: members see who chose what',
    poll.closed ? 'Closed' : 'Open',
    ...(!poll.closed && poll.closes_at ? [`Closes on ${closesWords(poll.closes_at)}`] : []),
  ].join(' · ');
}

function voteForm(poll, status) {
  const form = el('form', 'stack poll-vote');
  form.method = 'post';
  form.action = `/g/${room}/polls/${poll.id}/vote`;
  const fieldset = el('fieldset');
  fieldset.append(el('legend', '', poll.question));
  poll.options.forEach((label, i) => {
    const row = el('div', 'choice');
    const input = el('input');
    input.type = poll.kind === 'single' ? 'radio' : 'checkbox';
    input.name = 'choice';
    input.value = String(i);
    input.id = `rp${poll.id}-o${i}`;
    const lab = el('label', '', label);
    lab.htmlFor = input.id;
    row.append(input, lab);
    fieldset.append(row);
  });
  const button = el('button', 'button', poll.voted ? 'Change my vote' : 'Vote');
  button.type = 'submit';
  form.append(fieldset, button, status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const choices = [...form.querySelectorAll('input[name=choice]:checked')].map((x) => Number(x.value));
    if (!choices.length) {
      status.textContent = 'Please choose an answer first.';
      return;
    }
    button.disabled = true;
    status.textContent = 'Sending your vote…';
    try {
      await send('poll.vote', { poll: poll.id, choices });
      status.textContent = 'Thank you. Your vote is saved. You can change it until the poll closes.';
      button.textContent = 'Change my vote';
      refresh(poll.id, false);
    } catch (err) {
      status.textContent = `Your vote was not saved: ${err.message || 'please try again.'}`;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function closeButton(poll, status) {
  const form = el('form', 'poll-close');
  const button = el('button', 'button secondary', 'Close this poll');
  button.type = 'submit';
  form.append(button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    try {
      await send('poll.close', { poll: poll.id });
    } catch (err) {
      status.textContent = `The poll did not close: ${err.message || 'please try again.'}`;
      button.disabled = false;
    }
  });
  return form;
}

/** A poll card for the room panel: question, how it works, vote form, results, controls. */
function buildCard(poll) {
  const card = el('article', 'card poll');
  card.id = `room-poll-${poll.id}`;
  card.dataset.poll = poll.id;
  const h = el('h3');
  h.id = `room-poll-${poll.id}-q`;
  const link = el('a', '', poll.question);
  link.href = `/g/${room}/polls/${poll.id}`;
  h.append(link);
  card.setAttribute('aria-labelledby', h.id);
  const about = el('p', 'poll-about muted', aboutText(poll));
  const status = el('p', 'form-status');
  status.setAttribute('role', 'status');
  card.append(h, about);
  if (!poll.closed) card.append(voteForm(poll, status));
  card.append(resultsNode(poll));
  if (!poll.closed && canRun()) {
    const more = el('p', 'poll-more');
    const a = el('a', '', 'Add votes from the room or by phone');
    a.href = `/g/${room}/polls/${poll.id}`;
    more.append(a);
    card.append(more, closeButton(poll, status));
  }
  if (!poll.closed && !card.contains(status)) card.append(status);
  return card;
}

function canRun() {
  return document.getElementById('room-poll-new') !== null;
}

function showEmpty() {
  if (empty) empty.hidden = cards.size > 0;
}

/** Draw a poll's latest state: a new card, or new results in the card already shown. */
function draw(poll, { speak = false } = {}) {
  const known = cards.get(poll.id);
  if (list) {
    if (!known) {
      const card = buildCard(poll);
      list.prepend(card);
      cards.set(poll.id, { card, poll });
    } else {
      known.card.querySelector('.poll-results').replaceWith(resultsNode(poll));
      known.card.querySelector('.poll-about').textContent = aboutText(poll);
      if (poll.closed) {
        known.card.querySelector('.poll-vote')?.remove();
        known.card.querySelector('.poll-close')?.remove();
        known.card.querySelector('.poll-more')?.remove();
      }
      known.poll = poll;
    }
  } else if (onPollsPage) {
    const results = document.querySelector(`[data-poll-results="${poll.id}"]`);
    if (results) results.replaceWith(resultsNode(poll));
  }
  showEmpty();
  if (speak) {
    announce(poll.closed
      ? `Poll closed: ${poll.question}. ${summary(poll)}`
      : `Poll results: ${poll.question}. ${summary(poll)}`);
  }
}

/** Re-read one poll (debounced: a burst of votes redraws once). */
function refresh(id, speak = true, delay = 250) {
  clearTimeout(timers.get(id));
  timers.set(id, setTimeout(async () => {
    timers.delete(id);
    try {
      const { poll } = await send('poll.get', { poll: id });
      draw(poll, { speak });
    } catch {
      /* offline: the next 'cfn:ready' reloads everything */
    }
  }, delay));
}

async function loadAll() {
  if (!list) return;
  try {
    const { polls } = await send('poll.list', { room });
    for (const poll of polls.filter((p) => !p.closed).reverse()) draw(poll);
    for (const [id] of cards) if (!polls.some((p) => p.id === id && !p.closed)) refresh(id, false, 0);
    showEmpty();
  } catch {
    /* shown again on the next reconnect */
  }
}

function setupCreate() {
  const form = document.querySelector('#room-poll-new form.poll-create');
  if (!form) return;
  const status = form.querySelector('.form-status');
  form.addEventListener('submit', async (e) => {
    const data = new FormData(form);
    // a closing time is read in UK time by the server: let the form post as it would without JS
    if (data.get('closes_date') || data.get('closes_time')) return;
    e.preventDefault();
    const options = String(data.get('options') || '').split('\n').map((s) => s.trim()).filter(Boolean);
    const question = String(data.get('question') || '').trim();
    if (!question) {
      status.textContent = 'Please write the question.';
      return;
    }
    if (options.length < 2 || options.length > 20) {
      status.textContent = 'A poll needs 2 to 20 answers, one on each line.';
      return;
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    status.textContent = 'Opening the poll…';
    try {
      await send('poll.create', {
        room, question, options,
        kind: data.get('kind') === 'multi' ? 'multi' : 'single',
        anonymous: data.get('anonymous') === 'yes',
        results: String(data.get('results') || 'live'),
      });
      form.reset();
      status.textContent = 'The poll is open for everyone in the room.';
    } catch (err) {
      status.textContent = `The poll did not open: ${err.message || 'please try again.'}`;
    } finally {
      button.disabled = false;
    }
  });
}

document.addEventListener('cfn:event', (e) => {
  const ev = e.detail;
  if (ev.room !== room || !ev.type.startsWith('poll.') || (!list && !onPollsPage)) return;
  const id = ev.data.poll;
  if (ev.type === 'poll.created') {
    // Elsewhere room.js shows a notice with a link to the new poll and announces it.
    if (!list) return;
    announce(`New poll: ${ev.data.question}`);
    refresh(id, false, 0);
  } else if (ev.type === 'poll.closed') {
    refresh(id, true, 0);
  } else if (ev.type === 'poll.tally' || ev.type === 'poll.turnout') {
    if (list && !cards.has(id)) return;
    refresh(id, true);
  }
});
document.addEventListener('cfn:ready', loadAll);
setupCreate();
