// One WebSocket to the server, speaking the JSON subprotocol (PROTOCOL.md, cfn.v1.json).
// It reconnects by itself and resumes each room with `join … since`, dropping any event
// it has already seen (by seq), so after a network drop nothing is lost or shown twice.

export const SUBPROTOCOL = 'cfn.v1.json';

function offline() {
  const err = new Error('Not connected');
  err.code = 'offline';
  return err;
}

export class LiveSocket extends EventTarget {
  constructor(url, { pingEvery = 15000, pingTimeout = 8000 } = {}) {
    super();
    this.url = url;
    this.ws = null;
    this.ref = 0;
    this.replies = new Map();
    this.rooms = new Map(); // slug -> { seq, epoch }
    this.state = 'connecting';
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pingEvery = pingEvery;
    this.pingTimeout = pingTimeout;
    window.addEventListener('online', () => this.retryNow());
    window.addEventListener('offline', () => this.drop());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.retryNow();
    });
  }

  /** Follow a room from `seq` (the last event the page already shows). */
  watch(room, seq, epoch) {
    this.rooms.set(room, { seq, epoch });
  }

  get connected() {
    return this.state === 'connected';
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.emit('state', state);
  }

  connect() {
    clearTimeout(this.retryTimer);
    if (this.ws) return;
    let ws;
    try {
      ws = new WebSocket(this.url, SUBPROTOCOL);
    } catch {
      this.emit('down');
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.opened(ws);
    ws.onmessage = (e) => this.received(e.data);
    ws.onclose = () => this.closed(ws);
  }

  async opened(ws) {
    try {
      for (const [room, r] of this.rooms) {
        const args = { room };
        if (r.seq != null) args.since = r.seq;
        if (r.epoch) args.epoch = r.epoch;
        const data = await this.call('join', args);
        r.epoch = data.epoch;
        if (r.seq == null || !data.recovered) {
          const reset = r.seq != null;
          r.seq = data.seq;
          if (reset) this.emit('reset', room);
        }
      }
    } catch {
      if (this.ws === ws) this.drop();
      return;
    }
    if (this.ws !== ws) return;
    this.attempt = 0;
    this.setState('connected');
    this.startPing(ws);
    this.emit('ready');
  }

  received(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.op === 'reply') {
      const waiting = this.replies.get(msg.ref);
      if (!waiting) return;
      this.replies.delete(msg.ref);
      if (msg.ok) {
        waiting.resolve(msg.data);
      } else {
        const err = new Error(msg.error.message);
        err.code = msg.error.code;
        waiting.reject(err);
      }
    } else if (msg.op === 'event') {
      const r = this.rooms.get(msg.room);
      if (msg.seq != null && r) {
        if (msg.seq <= r.seq) return; // already seen: a replay overlapping the page
        r.seq = msg.seq;
      }
      this.emit('event', msg);
    }
  }

  /** Send a command; resolves with the reply's data, rejects with err.code. */
  call(op, args = {}) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(offline());
        return;
      }
      const ref = ++this.ref;
      this.replies.set(ref, { resolve, reject });
      this.ws.send(JSON.stringify({ ...args, op, ref }));
    });
  }

  closed(ws) {
    if (this.ws !== ws) return;
    this.ws = null;
    clearInterval(this.pingTimer);
    for (const waiting of this.replies.values()) waiting.reject(offline());
    this.replies.clear();
    this.setState('reconnecting');
    this.emit('down');
    this.scheduleRetry();
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    const delay = Math.min(15000, 1000 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  retryNow() {
    if (this.ws) return;
    this.attempt = 0;
    this.connect();
  }

  /** Give up on the current socket (network gone, or no answer to a ping). */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    try {
      ws.close();
    } catch {
      /* already closing */
    }
    this.closed(ws);
  }

  startPing(ws) {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (this.ws !== ws) return;
      const timer = setTimeout(() => {
        if (this.ws === ws) this.drop();
      }, this.pingTimeout);
      this.call('ping').then(
        () => clearTimeout(timer),
        () => clearTimeout(timer),
      );
    }, this.pingEvery);
  }
}
