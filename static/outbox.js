// What a member wrote but the server has not yet confirmed, kept in localStorage so that
// a dropped signal, a closed laptop or a reloaded tab loses nothing. Each entry carries
// its cid: sending it again after a reconnect never creates a second copy.

export function newCid() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return 'w' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Outbox {
  constructor(userId) {
    this.key = `cfn.outbox.v1.${userId}`;
  }

  all() {
    try {
      const items = JSON.parse(localStorage.getItem(this.key) || '[]');
      return Array.isArray(items) ? items : [];
    } catch {
      return [];
    }
  }

  save(items) {
    try {
      localStorage.setItem(this.key, JSON.stringify(items));
    } catch {
      /* storage full or disabled: the message still goes if the page stays open */
    }
  }

  add(item) {
    this.save([...this.all().filter((i) => i.cid !== item.cid), item]);
  }

  remove(cid) {
    this.save(this.all().filter((i) => i.cid !== cid));
  }

  forRoom(room) {
    return this.all().filter((i) => i.args && i.args.room === room);
  }
}

/** A draft in the text box, kept per thread so a reload does not wipe it. */
export class Draft {
  constructor(userId, room, thread) {
    this.key = `cfn.draft.v1.${userId}.${room}.${thread || 'new'}`;
  }

  get() {
    try {
      return localStorage.getItem(this.key) || '';
    } catch {
      return '';
    }
  }

  set(text) {
    try {
      if (text) localStorage.setItem(this.key, text);
      else localStorage.removeItem(this.key);
    } catch {
      /* ignore */
    }
  }
}
