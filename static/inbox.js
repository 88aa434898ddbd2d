// What's new for you, live: listens on the member's rooms and, when something happens in
// one, fetches this page again and swaps in its list, saying what changed in the
// aria-live region. Without JavaScript the page is the same, only not live.

import { LiveSocket } from './socket.js';

const list = document.getElementById('inbox-list');
const announcer = document.getElementById('announcer');

if (list) {
  const rooms = (list.dataset.rooms || '').split(' ').filter(Boolean);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new LiveSocket(`${scheme}//${location.host}/ws`);
  for (const room of rooms) socket.watch(room, null, null);
  let timer = null;

  const refresh = async () => {
    timer = null;
    let html;
    try {
      const response = await fetch(location.pathname, { credentials: 'same-origin' });
      if (!response.ok) return;
      html = await response.text();
    } catch {
      return; // offline: the page stays as it is, and the next event tries again
    }
    const fresh = new DOMParser().parseFromString(html, 'text/html');
    const next = fresh.getElementById('inbox-list');
    const current = document.getElementById('inbox-list');
    if (!next || !current || next.innerHTML === current.innerHTML) return;
    const before = Number(current.dataset.total || 0);
    const after = Number(next.dataset.total || 0);
    current.replaceWith(next);
    const badge = fresh.getElementById('nav-inbox');
    const link = document.getElementById('nav-inbox');
    if (badge && link) link.innerHTML = badge.innerHTML;
    if (announcer) {
      announcer.textContent = after > before
        ? `Something new: ${after} thing${after === 1 ? '' : 's'} new for you.`
        : `The list changed: ${after} thing${after === 1 ? '' : 's'} new for you.`;
    }
  };

  socket.addEventListener('event', () => {
    if (timer === null) timer = setTimeout(refresh, 400);
  });
  socket.addEventListener('reset', () => {
    if (timer === null) timer = setTimeout(refresh, 400);
  });
  socket.connect();
}
