'use strict';
// libredlock for Node.js: redis-py's Lock semantics on the libredlock C library, with promises.
//
// Calls that talk to Redis run synchronously on a small pool of worker threads; waiting for a busy lock is a timer
// on the event loop, so no thread is held while waiting and the event loop is never blocked.
// Because consecutive calls on one lock may run on different worker threads, every lock handle uses the C library's
// REDLOCK_SHARED token state: the lock object (not an OS thread) is the owner. See docs/thread-local.md.
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { setTimeout: sleep } = require('node:timers/promises');
const { randomBytes } = require('node:crypto');
const { codes, findLibrary, bind } = require('./native');
const {
  RedlockError, LockError, LockNotOwnedError, ConnectionError, TimeoutError, ResponseError, AuthenticationError,
  InvalidArgumentError,
} = require('./errors');
const arg = require('./options');
const { MAX_DURATION_MS } = arg;

const libraryPath = findLibrary();
const c = bind(libraryPath);
const SHARED = 1;

const byCode = new Map([
  [codes.ENOTHELD, LockError], [codes.ENOTTL, LockError], [codes.ENOTOWNED, LockNotOwnedError],
  [codes.ECONN, ConnectionError], [codes.ETIMEDOUT, TimeoutError], [codes.ESERVER, ResponseError],
  [codes.EAUTH, AuthenticationError], [codes.EINVAL, InvalidArgumentError],
]);

function errorFor(rc, msg) {
  const Cls = byCode.get(rc) || RedlockError;
  return new Cls(msg || c.strerror(rc), rc);
}

// Main-thread calls never do I/O: their message is read here, on the same thread.
function check(rc) {
  if (rc < 0) throw errorFor(rc, c.lastError());
  return rc;
}

class WorkerPool {
  constructor(size) {
    this.size = size;
    this.idle = [];
    this.all = [];
    this.queue = [];
    this.pending = new Map();
    this.nextId = 1;
    this.idleWaiters = [];
  }

  saturated() {
    return this.idle.length === 0 && this.all.length >= this.size;
  }

  // Resolves when a worker next becomes idle.
  whenIdle() {
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  run(op, ...args) {
    return this.runFor(false, op, ...args);
  }

  // `quorum`: the handle is (of) a quorum client, whose per-master outcomes come back too.
  runFor(quorum, op, ...args) {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, args, quorum, resolve, reject });
      this.dispatch();
    });
  }

  dispatch() {
    while (this.queue.length > 0) {
      let w = this.idle.pop();
      if (!w && this.all.length < this.size) w = this.spawn();
      if (!w) return;
      const job = this.queue.shift();
      const id = this.nextId++;
      this.pending.set(id, job);
      w.busy = id;
      w.ref();  // keep the process alive while a call is under way
      w.postMessage({ id, op: job.op, args: job.args, quorum: job.quorum });
    }
  }

  spawn() {
    const w = new Worker(path.join(__dirname, 'worker.js'), { workerData: { libraryPath } });
    w.on('message', ({ id, rc, msg, threadId, outcomes, extra }) => {
      const job = this.pending.get(id);
      this.pending.delete(id);
      w.busy = 0;
      w.unref();  // an idle pool does not keep the process alive
      this.idle.push(w);
      job.resolve({ rc, msg, threadId, outcomes, extra });
      this.dispatch();
      if (this.idle.length > 0 && this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    });
    w.on('error', (e) => {
      const job = this.pending.get(w.busy);
      if (job) {
        this.pending.delete(w.busy);
        job.reject(e);
      }
      this.all = this.all.filter((x) => x !== w);
      this.idle = this.idle.filter((x) => x !== w);
      this.dispatch();
    });
    this.all.push(w);
    return w;
  }
}

const pool = new WorkerPool(Number(process.env.LIBREDLOCK_THREADS) || 4);
// Waits for busy locks run on workers of their own, so that waiting never delays a release (which would be the very
// call that ends the wait). When all of them are taken, further waiters poll with timers instead.
const waitPool = new WorkerPool(Number(process.env.LIBREDLOCK_WAIT_THREADS) || 8);
const WAIT_SLICE_MS = 1000;  // one wait's longest stay in C: a freed lock or a closing program is never held longer

// Runs one C call on a worker; resolves with its result code, rejects with the mapped error.
async function io(op, quorum, ...args) {
  const { rc, msg, threadId, outcomes } = await pool.runFor(quorum, op, ...args);
  if (rc < 0) {
    const e = errorFor(rc, msg);
    if (outcomes) e.outcomes = outcomes;
    throw e;
  }
  return { rc, threadId, outcomes };
}

// setTimeout fires after 1 ms (with a warning) when asked for more than 2^31 - 1 ms: longer waits are chained.
const MAX_TIMER_MS = 2 ** 31 - 1;
async function wait(ms, signal) {
  let left = ms;
  for (; left > MAX_TIMER_MS; left -= MAX_TIMER_MS) await sleep(MAX_TIMER_MS, undefined, { signal });
  await sleep(left, undefined, { signal });
}

// A timer wait (when every wait thread is taken) that also ends when a wait thread becomes free, so that waiter
// goes back to waiting in the library, where releases wake it.
async function waitOrFreeThread(ms) {
  const ac = new AbortController();
  try {
    await Promise.race([wait(ms, ac.signal).catch(() => {}), waitPool.whenIdle()]);
  } finally {
    ac.abort();
  }
}

const CLIENT_OPTIONS = ['connectTimeout', 'commandTimeout', 'maxConnections', 'keepalive', 'username', 'password', 'db',
  'tlsCaFile', 'tlsCaDir', 'tlsCertFile', 'tlsKeyFile', 'tlsServerName', 'tlsVerify', 'sentinelUsername',
  'sentinelPassword'];
const TEXT_FIELDS = [['tlsCaFile', 'tls_ca_file'], ['tlsCaDir', 'tls_ca_dir'], ['tlsCertFile', 'tls_cert_file'],
  ['tlsKeyFile', 'tls_key_file'], ['tlsServerName', 'tls_server_name'], ['sentinelUsername', 'sentinel_username'],
  ['sentinelPassword', 'sentinel_password']];
const LOCK_OPTIONS = ['timeout', 'sleep', 'blocking', 'blockingTimeout', 'fencing', 'autoRenew', 'onLost', 'fair'];
const ACQUIRE_OPTIONS = ['blocking', 'blockingTimeout', 'sleep', 'token'];

const handles = new FinalizationRegistry(({ free, address, id }) => {
  if (id) lost.locks.delete(id);
  free(address);
});

// onLost: the C callback lives in a worker of its own (lost-listener.js), which forwards (lock id, reason) here.
const lost = {
  address: 0n,   // the C function, once the listener runs
  locks: new Map(),  // lock id -> WeakRef(Lock): a callback never keeps its lock alive
  nextId: 1,
  listener: null,
  start() {
    if (this.address) return this.address;
    const shared = new SharedArrayBuffer(8);
    const slot = new BigInt64Array(shared);
    const w = new Worker(path.join(__dirname, 'lost-listener.js'), { workerData: { libraryPath, shared } });
    w.on('message', ({ id, reason }) => {
      const lock = this.locks.get(id)?.deref();
      if (lock && lock._onLost) {
        const error = errorFor(reason, `lock '${lock.name}' lost: ${c.strerror(reason)}`);
        queueMicrotask(() => lock._onLost(lock, error));
      }
    });
    w.unref();
    // Once per process, ~20-50 ms: the lock constructor is synchronous and needs the address now.
    while (Atomics.load(slot, 0) === 0n) {
      if (Atomics.wait(slot, 0, 0n, 10000) === 'timed-out') throw new Error('libredlock: the onLost listener did not start');
    }
    this.listener = w;
    this.address = Atomics.load(slot, 0);
    // At exit, locks with onLost are freed first (ending their renewals) while the listener still runs.
    process.once('exit', () => {
      for (const ref of this.locks.values()) ref.deref()?.free();
    });
    return this.address;
  },
};

class Client {
  /**
   * @param {string|string[]} url redis://[[user]:password@]host[:port][/db], rediss://... (TLS), unix:///path,
   *   redis+sentinel://host1:26379[,host2...]/service[/db] or redis+cluster://host1:6379[,host2...] (docs/); or an
   *   array of 1 to 64 single-server URLs: Redlock over independent masters (docs/redlock.md), the options applying
   *   to each
   * @param {object} [options] connectTimeout, commandTimeout (ms; null, Infinity or > MAX_DURATION_MS = no limit),
   *   maxConnections, keepalive (s), username, password, db, and for rediss:// tlsCaFile, tlsCaDir, tlsCertFile,
   *   tlsKeyFile, tlsServerName, tlsVerify (false: unsafe), for redis+sentinel:// sentinelUsername and
   *   sentinelPassword (the sentinels' own); any other key is a TypeError
   */
  constructor(url, options) {
    const quorum = Array.isArray(url);
    if (quorum) url.forEach((u, i) => arg.text(u, `url[${i}]`));
    else arg.text(url, 'url');
    const opts = arg.options(options, 'Client option', CLIENT_OPTIONS);
    const o = {};
    c.clientOptionsInit(o);
    // Each field the C struct reads as "unset" (0 or -1) is kept out of reach: an option given is an option used.
    const given = (k) => opts[k] !== undefined;
    if (given('connectTimeout')) o.connect_timeout_ms = arg.clientTimeout(opts.connectTimeout, 'connectTimeout');
    if (given('commandTimeout')) o.command_timeout_ms = arg.clientTimeout(opts.commandTimeout, 'commandTimeout');
    if (given('maxConnections')) o.max_connections = arg.integer(opts.maxConnections, 'maxConnections', 1, 2 ** 32 - 1);
    if (given('keepalive')) o.keepalive_s = arg.integer(opts.keepalive, 'keepalive', 0, 32767);  // the kernel's TCP_KEEPIDLE limit
    if (given('db')) o.db = arg.integer(opts.db, 'db', 0, 2 ** 31 - 1);
    if (opts.username != null) o.username = arg.text(opts.username, 'username');
    if (opts.password != null) o.password = arg.text(opts.password, 'password');
    for (const [js, c] of TEXT_FIELDS) if (opts[js] != null) o[c] = arg.text(opts[js], js);
    if (given('tlsVerify')) o.tls_verify = arg.boolean(opts.tlsVerify, 'tlsVerify') ? 1 : 0;
    if ((opts.sentinelUsername != null || opts.sentinelPassword != null) &&
        (quorum || !/^rediss?\+sentinel:\/\//i.test(url))) {
      throw new InvalidArgumentError('sentinelUsername/sentinelPassword need a redis+sentinel:// URL', codes.EINVAL);
    }
    const out = [0n];
    check(quorum ? c.clientNewQuorum(out, url, url.length, o) : c.clientNew(out, url, o));
    this._address = out[0];
    this._token = {};
    handles.register(this, { free: c.clientFree, address: this._address }, this._token);
    this.url = quorum ? null : url;
    /** The masters' URLs of a quorum client, else null. */
    this.urls = quorum ? [...url] : null;
    /** On a quorum client: each master's answer to the last ping(), else null. */
    this.outcomes = null;
  }

  static fromUrl(url, options) {
    return new Client(url, options);
  }

  /**
   * Redlock over independent masters: each lock takes its key on a majority of them at once. Its locks need a
   * `timeout`; `lock.validity` says how long the owner can rely on it; a failure's message names each master's answer.
   */
  static fromUrls(urls, options) {
    if (!Array.isArray(urls)) throw new TypeError('urls must be an array of URLs');
    return new Client(urls, options);
  }

  /** Connects, authenticates and PINGs; rejects if the server cannot be used. */
  async ping() {
    ({ outcomes: this.outcomes } = await io('ping', this.urls !== null, this._live()));
    return true;
  }

  /**
   * A lock on this client. Times in milliseconds.
   * @param {string|Buffer} name the Redis key, verbatim
   * @param {object} [options] timeout (TTL; null/0 = never expires), sleep (default 100), blocking (default true),
   *   blockingTimeout (null = wait forever, the default); any other key is a TypeError
   */
  lock(name, options) {
    return new Lock(this, name, options);
  }

  /** Frees this handle now (locks made from it keep the connections alive). */
  close() {
    if (this._address) {
      handles.unregister(this._token);
      c.clientFree(this._address);
      this._address = 0n;
    }
  }

  _live() {
    if (!this._address) throw new InvalidArgumentError('client is closed', codes.EINVAL);
    return this._address;
  }
}

class Lock {
  constructor(client, name, options) {
    if (!(client instanceof Client)) throw new TypeError('client must be a libredlock Client');
    const bytes = arg.name(name);
    const opts = arg.options(options, 'lock option', LOCK_OPTIONS);
    const ttl = arg.ttl(opts.timeout);
    this.name = name;
    this._quorum = client.urls !== null;  // its calls also bring back each master's outcome
    this.timeout = ttl === 0 ? null : ttl;
    this.sleep = opts.sleep === undefined ? 100 : arg.duration(opts.sleep, 'sleep');
    this.blocking = opts.blocking === undefined ? true : arg.boolean(opts.blocking, 'blocking');
    this.blockingTimeout = opts.blockingTimeout === undefined ? null : arg.waitLimit(opts.blockingTimeout);
    this.fencing = opts.fencing === undefined ? false : arg.boolean(opts.fencing, 'fencing');
    this.autoRenew = opts.autoRenew === undefined ? false : arg.boolean(opts.autoRenew, 'autoRenew');
    this.fair = opts.fair === undefined ? false : arg.boolean(opts.fair, 'fair');
    if (opts.onLost != null && typeof opts.onLost !== 'function') throw new TypeError('onLost must be a function');
    this._onLost = opts.onLost || null;
    const o = {};
    c.lockOptionsInit(o);
    o.timeout_ms = ttl;
    o.sleep_ms = this.sleep;
    o.fencing = this.fencing ? 1 : 0;
    o.auto_renew = this.autoRenew ? 1 : 0;
    o.fair = this.fair ? 1 : 0;
    this._id = 0;
    if (this._onLost && !this.autoRenew) throw new InvalidArgumentError('onLost needs autoRenew', codes.EINVAL);
    if (this.autoRenew && ttl === 0) {
      throw new InvalidArgumentError('autoRenew needs a timeout (the lock\'s TTL, in ms)', codes.EINVAL);
    }
    if (this._onLost && ttl > 0) {  // without a TTL the C call below refuses autoRenew, with its message
      o.on_lost = lost.start();
      this._id = lost.nextId++;
      o.on_lost_arg = this._id;
    }
    const out = [0n];
    check(c.lockNew(out, client._live(), Buffer.concat([bytes, Buffer.from([0])]), o, SHARED));
    this._address = out[0];
    this._token = {};
    if (this._id) lost.locks.set(this._id, new WeakRef(this));
    handles.register(this, { free: c.lockFree, address: this._address, id: this._id }, this._token);
    /** Worker thread ids of the latest calls (for tests and diagnostics). */
    this.lastThreadId = 0;
    /** On a quorum client: each master's answer to this lock's last call (codes, in URL order), else null. */
    this.outcomes = null;
    this._busy = 0;
    this._freeLater = false;
  }

  /**
   * redis-py's acquire(): resolves true once acquired, false if not blocking or blockingTimeout ran out.
   * The first attempt is immediate; the deadline is fixed before it; never sleeps past it. Without `token`, the
   * library picks each attempt's token (a fresh one, or the one it kept after an unknown outcome, to retry).
   * @param {object} [options] blocking, blockingTimeout (ms; null, Infinity or > MAX_DURATION_MS = forever, negative =
   *   one attempt), sleep (ms), token (string); any other key is a TypeError
   */
  async acquire(options) {
    const opts = arg.options(options, 'acquire option', ACQUIRE_OPTIONS);
    const blocking = opts.blocking === undefined ? this.blocking : arg.boolean(opts.blocking, 'blocking');
    const sleepMs = opts.sleep === undefined ? this.sleep : arg.duration(opts.sleep, 'sleep');
    const timeout = opts.blockingTimeout === undefined ? this.blockingTimeout : arg.waitLimit(opts.blockingTimeout);
    let token = opts.token === undefined ? null : arg.text(opts.token, 'token', { nul: true });
    // A fair waiter's place in the queue is its token: the same one in every call of this wait.
    if (token === null && this.fair && blocking && timeout !== 0) token = randomBytes(16).toString('hex');
    const deadline = timeout === null ? null : performance.now() + timeout;
    if ((await this._call('attempt', token)) === codes.OK) return true;
    if (!blocking) return false;
    let queued = false;  // a fair wait whose last call kept its place in the queue
    for (;;) {
      const left = deadline === null ? Infinity : deadline - performance.now();
      if (left <= 0) {
        if (queued) await this._call('leave', token).catch(() => {});  // best effort: else its heartbeat runs out
        return false;
      }
      // A fair waiter always waits in the library (queued behind busy wait threads if need be): a timer poll would
      // not hold its place in the queue.
      if (this.fair || (sleepMs > 0 && !waitPool.saturated())) {
        // In the library: woken at once by a libredlock release, polling within sleepMs; sliced, so a wait that
        // outlives its lock object or the program's interest ends soon.
        // The last slice runs to the deadline (rounded up): a fair waiter leaves the queue when it ends.
        const last = deadline !== null && left <= WAIT_SLICE_MS;
        const slice = last ? Math.max(1, Math.ceil(left)) : WAIT_SLICE_MS;
        queued = this.fair && !last;
        if ((await this._call('wait', token, slice, sleepMs, last)) === codes.OK) return true;
        continue;
      }
      if (deadline !== null && performance.now() + sleepMs > deadline) return false;
      await waitOrFreeThread(sleepMs);
      if ((await this._call('attempt', token)) === codes.OK) return true;
    }
  }

  /** Rejects with LockError if this lock holds no token, LockNotOwnedError if Redis no longer has it. */
  async release() { await this._call('release'); }

  /** Adds `additionalMs` (0..MAX_DURATION_MS) to the TTL, or sets the TTL to it with replaceTtl. */
  async extend(additionalMs, replaceTtl = false) {
    const add = arg.duration(additionalMs, 'additionalMs');
    await this._call('extend', add, arg.boolean(replaceTtl, 'replaceTtl') ? 1 : 0);
    return true;
  }

  /** Resets the TTL to the lock's timeout. */
  async reacquire() { await this._call('reacquire'); return true; }

  /** True if anyone holds the lock. */
  async locked() { return (await this._call('locked')) === 1; }

  /** True if this lock's token is the one in Redis. */
  async owned() { return (await this._call('owned')) === 1; }

  /**
   * The key as it is now, whoever holds it (this lock's own token plays no part), for operators' tools:
   * `{ held, ttl, value, valueBytes }`: ttl in ms (null without a TTL or when free); value a Buffer of the first 4096
   * bytes (null when free, or when a quorum's majority holds the key but no one value is on a majority).
   */
  async status() {
    const { rc, extra } = await this._run('status');
    const held = rc !== 0;
    return {
      held,
      ttl: held && extra.ttl >= 0 ? extra.ttl : null,
      value: extra.value === null ? null : Buffer.from(extra.value),
      valueBytes: extra.valueBytes,
    };
  }

  /** Deletes the key only if it holds `token` (a string or Buffer; recovery of a crashed owner's lock); rejects with
   *  LockNotOwnedError if it does not. This lock's own token is not touched. */
  async releaseToken(token) {
    if (!Buffer.isBuffer(token) && typeof token !== 'string') {
      throw new TypeError(`token must be a string or a Buffer, got ${typeof token}`);
    }
    const bytes = Buffer.isBuffer(token) ? token : Buffer.from(arg.text(token, 'token', { nul: true }), 'utf8');
    if (bytes.length < 1 || bytes.length > 4096) {  // REDLOCK_MAX_TOKEN_LEN
      throw new InvalidArgumentError(`token must be 1 to 4096 bytes, not ${bytes.length}`, codes.EINVAL);
    }
    await this._call('releaseToken', bytes);
  }

  /** This lock's token (string), or null. Never does I/O. */
  /**
   * This lock's fencing token (a lock made with `fencing: true`), or null when it holds none: a number that strictly
   * increases per lock name across all clients. Never does I/O.
   */
  get fence() {
    const out = [0n];
    const rc = c.fence(this._live(), out);
    if (rc === codes.ENOTHELD) return null;
    check(rc);
    return Number(out[0]);
  }

  /**
   * Milliseconds this owner can still rely on the lock (the TTL minus the time since the acquire, extend or renewal
   * was sent, minus the clock drift allowance; 0 once expired or lost), null when it holds no token, Infinity for a
   * lock without a timeout. Never does I/O.
   */
  get validity() {
    const out = [0];
    const rc = c.validity(this._live(), out);
    if (rc === codes.ENOTHELD) return null;
    if (rc === codes.ENOTTL) return Infinity;
    check(rc);
    return Number(out[0]);
  }

  get token() {
    // One call into a buffer for the longest token (REDLOCK_MAX_TOKEN_LEN + 1): a size query first would race with
    // a worker thread releasing or re-acquiring in between.
    const needed = [0];
    const buf = Buffer.alloc(4097);
    const rc = c.token(this._live(), buf, buf.length, needed);
    if (rc === codes.ENOTHELD) return null;
    check(rc);
    return buf.subarray(0, Number(needed[0]) - 1).toString('utf8');
  }

  /** Acquire, run fn, release (like Python's `with lock:`); rejects with LockError if the lock cannot be had. */
  async using(fn) {
    let acquired;
    try {
      acquired = await this.acquire();
    } catch (e) {
      // Unknown outcome (the SET may have landed; its token is kept): fn never runs, so take it back, best effort.
      if (e instanceof ConnectionError || e instanceof TimeoutError) await this.release().catch(() => {});
      throw e;
    }
    if (!acquired) {
      throw new LockError('Unable to acquire lock within the time specified', codes.NOT_ACQUIRED);
    }
    try {
      return await fn(this);
    } finally {
      await this.release();
    }
  }

  /** Frees the handle now. Never touches Redis: a held lock stays held until its TTL. */
  free() {
    if (!this._address || this._freeLater) return;
    if (this._busy > 0) {
      this._freeLater = true;  // after the calls under way (a wait ends within its slice)
      return;
    }
    this._freeNow();
  }

  _freeNow() {
    handles.unregister(this._token);
    if (this._id) lost.locks.delete(this._id);
    c.lockFree(this._address);
    this._address = 0n;
    this._freeLater = false;
  }

  async _call(op, ...args) { return (await this._run(op, ...args)).rc; }

  /** A call on a worker thread: its return code and what it read besides (`extra`); rejects with its error. */
  async _run(op, ...args) {
    const handle = this._live();
    this._busy += 1;  // free() waits for calls under way: a worker may be using the handle
    try {
      const { rc, msg, threadId, outcomes, extra } =
        await (op === 'wait' ? waitPool : pool).runFor(this._quorum, op, handle, ...args);
      this.lastThreadId = threadId;
      this.outcomes = outcomes;
      if (rc < 0) {
        const e = errorFor(rc, msg);
        if (outcomes) e.outcomes = outcomes;
        throw e;
      }
      return { rc, extra };
    } finally {
      this._busy -= 1;
      if (this._busy === 0 && this._freeLater) this._freeNow();
    }
  }

  _live() {
    if (!this._address || this._freeLater) throw new InvalidArgumentError('lock is freed', codes.EINVAL);
    return this._address;
  }
}

module.exports = {
  Client, Lock, RedlockError, LockError, LockNotOwnedError, ConnectionError, TimeoutError, ResponseError,
  AuthenticationError, InvalidArgumentError, codes, MAX_DURATION_MS, libraryPath, libraryVersion: () => c.version(),
};
