'use strict';
// A worker thread: runs the C calls that talk to Redis, synchronously, and reads the detail message on this same
// thread right after (the C API keeps it per thread), so the event loop never waits on the network.
const { parentPort, workerData, threadId } = require('node:worker_threads');
const { bind } = require('./native');

const c = bind(workerData.libraryPath);
const ACQ_BLOCKING = 1;
const ACQ_BLOCKING_TIMEOUT = 2;
const ACQ_SLEEP = 4;
const ACQ_STAY_QUEUED = 8;
const ACQ_LEAVE_QUEUE = 16;

const ops = {
  ping: (h) => c.clientPing(h),
  // One attempt: the wait between attempts is a timer on the main thread. Without a caller's token the library
  // picks it: a fresh one, or the one it kept after a SET whose outcome was unknown (that SET may land later, and
  // only its own token can then take or release the key).
  attempt: (h, token) => {
    const o = {};
    c.acquireOptionsInit(o);
    o.set = ACQ_BLOCKING;
    o.blocking = 0;
    if (token !== null) {
      o.token = token;
      o.token_len = Buffer.byteLength(token);
    }
    return c.acquireEx(h, o);
  },
  // A wait inside the library (woken at once by a release, polling within `sleep`), bounded by `sliceMs`: the
  // first attempt, then waits; the thread is one of the wait pool's, never the pool that runs releases.
  wait: (h, token, sliceMs, sleepMs, last) => {
    const o = {};
    c.acquireOptionsInit(o);
    o.set = ACQ_BLOCKING | ACQ_BLOCKING_TIMEOUT | ACQ_SLEEP | (last ? 0 : ACQ_STAY_QUEUED);
    o.blocking = 1;
    o.blocking_timeout_ms = sliceMs;
    o.sleep_ms = sleepMs;
    if (token !== null) {
      o.token = token;
      o.token_len = Buffer.byteLength(token);
    }
    return c.acquireEx(h, o);
  },
  // A fair wait that ends between two calls gives its place up (its token leaves the queue).
  leave: (h, token) => {
    const o = {};
    c.acquireOptionsInit(o);
    o.set = ACQ_LEAVE_QUEUE;
    o.token = token;
    o.token_len = Buffer.byteLength(token);
    return c.acquireEx(h, o);
  },
  release: (h) => c.release(h),
  extend: (h, ms, replace) => c.extend(h, ms, replace),
  reacquire: (h) => c.reacquire(h),
  locked: (h) => c.locked(h),
  owned: (h) => c.owned(h),
  // The key as it is (redlock_lock_status): the return code, and what it read in `extra`.
  status: (h) => {
    const ttl = [0];
    const len = [0];
    const rc = c.status(h, ttl, statusBuf, statusBuf.length, len);
    const n = Number(len[0]);
    if (rc >= 0) extra = { ttl: Number(ttl[0]), valueBytes: n, value: rc === 1 ? statusBuf.subarray(0, Math.min(n, 4096)) : null };
    return rc;
  },
  releaseToken: (h, token) => c.releaseToken(h, token, token.length),
};
const statusBuf = Buffer.alloc(4097);  // REDLOCK_MAX_TOKEN_LEN + 1: the value's first 4096 bytes and a NUL
let extra = null;  // what the last call read besides its return code

const MAX_MASTERS = 64;  // REDLOCK_MAX_MASTERS
const codesBuf = new Int32Array(MAX_MASTERS);

parentPort.on('message', ({ id, op, args, quorum }) => {
  let rc;
  let msg = '';
  let outcomes = null;
  extra = null;
  try {
    rc = ops[op](...args);
    if (rc !== 0) msg = c.lastError();
    // Per master, on a quorum client (also per thread in the C API: read here, right after the call).
    const n = [0];
    if (quorum && c.quorumOutcomes(codesBuf, MAX_MASTERS, n) === 0 && Number(n[0]) > 0) {
      outcomes = Array.from(codesBuf.subarray(0, Number(n[0])));
    }
  } catch (e) {
    rc = -10;
    msg = `binding error: ${e.message}`;
  }
  parentPort.postMessage({ id, rc, msg, threadId, outcomes, extra });  // (extra's Buffer is copied)
});
