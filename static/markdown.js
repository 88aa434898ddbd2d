// Light Markdown for live messages, built with DOM nodes only (never innerHTML), so no
// text from a member can become markup. Mirrors server/render.py: paragraphs, line
// breaks, **bold**, *italics*, `code`, [links](https://…), <https://…>, lists, and bare
// http:// and https:// addresses (as linkify-it does there: trailing punctuation and
// unmatched closing brackets are left out; a host that is not plain ASCII stays text).

const INLINE =
  /(`[^`\n]+`)|(\*\*[^*\n]+\*\*|__[^_\n]+__)|(\*[^*\s][^*\n]*\*|_[^_\s][^_\n]*_)|\[([^\]\n]+)\]\(([^)\s]+)\)|<((?:https?:\/\/|mailto:)[^>\s]+)>|(?<![\p{L}\p{N}])([hH][tT][tT][pP][sS]?:\/\/[^\s<>"]+)/gu;
const TRAILING = /[.,;:!?'"*]$/;
const PAIRS = { ')': '(', ']': '[', '}': '{' };

/** The part of a bare address that linkify-it would link ('' when none). */
function bareUrl(candidate) {
  let url = candidate;
  for (;;) {
    const last = url.slice(-1);
    const open = PAIRS[last];
    if (TRAILING.test(url)) url = url.slice(0, -1);
    else if (open && url.split(open).length <= url.split(last).length - 1) url = url.slice(0, -1);
    else break;
  }
  const host = url.replace(/^https?:\/\//i, '').split(/[/?#]/)[0].replace(/^.*@/, '').replace(/:\d*$/, '');
  return host && /^[A-Za-z0-9.-]+$/.test(host) && !/(^|\.)xn--/i.test(host) ? url : '';
}
const SAFE_URL = /^(https?:\/\/|mailto:)/i;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d{1,9}[.)]\s+(.*)$/;

function link(parent, href, label) {
  if (!SAFE_URL.test(href)) {
    parent.append(label);
    return;
  }
  const a = document.createElement('a');
  a.href = href;
  a.rel = 'noopener nofollow ugc';
  a.textContent = label;
  parent.append(a);
}

function inline(parent, text) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    parent.append(text.slice(last, m.index));
    if (m[1]) {
      const code = document.createElement('code');
      code.textContent = m[1].slice(1, -1);
      parent.append(code);
    } else if (m[2]) {
      const strong = document.createElement('strong');
      inline(strong, m[2].slice(2, -2));
      parent.append(strong);
    } else if (m[3]) {
      const em = document.createElement('em');
      inline(em, m[3].slice(1, -1));
      parent.append(em);
    } else if (m[4]) {
      link(parent, m[5], m[4]);
    } else if (m[6]) {
      link(parent, m[6], m[6]);
    } else if (m[7]) {
      const url = bareUrl(m[7]);
      if (url) link(parent, url, url);
      last = m.index + url.length;
      continue;
    }
    last = m.index + m[0].length;
  }
  parent.append(text.slice(last));
}

function lines(parent, rows) {
  rows.forEach((row, i) => {
    if (i) parent.append(document.createElement('br'));
    inline(parent, row);
  });
}

/** Member-written text as a DocumentFragment of safe elements. */
export function renderMarkdown(text) {
  const out = document.createDocumentFragment();
  let para = [];
  let list = null;
  let kind = '';
  const flushPara = () => {
    if (para.length) {
      const p = document.createElement('p');
      lines(p, para);
      out.append(p);
    }
    para = [];
  };
  for (const row of String(text || '').split(/\r?\n/)) {
    const bullet = BULLET.exec(row);
    const numbered = bullet ? null : NUMBERED.exec(row);
    if (bullet || numbered) {
      flushPara();
      const want = bullet ? 'ul' : 'ol';
      if (!list || kind !== want) {
        list = document.createElement(want);
        kind = want;
        out.append(list);
      }
      const li = document.createElement('li');
      inline(li, (bullet || numbered)[1]);
      list.append(li);
    } else if (!row.trim()) {
      flushPara();
      list = null;
    } else {
      list = null;
      para.push(row);
    }
  }
  flushPara();
  return out;
}
