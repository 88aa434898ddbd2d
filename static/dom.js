// Small DOM helpers shared by the room, poll and idea scripts.

/** A new element with an optional class and text (text, never HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

const dateWords = new Intl.DateTimeFormat('en-GB', {
  weekday: 'short', day: 'numeric', month: 'short', year: 'numeric',
  hour: '2-digit', minute: '2-digit', timeZone: 'Europe/London',
});

/** A time in the same words the server's pages use: "Thu 26 Nov 2026, 05:04". */
export function when(ms) {
  const p = Object.fromEntries(dateWords.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return `${p.weekday} ${p.day} ${p.month} ${p.year}, ${p.hour}:${p.minute}`;
}
