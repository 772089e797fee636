'use strict';
// A worker thread that owns the one C callback every auto-renewed lock with onLost is given. The library calls it
// from its renewal thread, and koffi runs it here, on this worker's event loop, which does nothing else: so the
// renewal thread waits only microseconds, whatever the main thread is busy with (a main thread stuck in a long
// computation would otherwise hold up the renewals of every lock). The callback only forwards (lock id, reason)
// to the main thread, where the lock's 'lost' listeners run.
const { parentPort, workerData } = require('node:worker_threads');
const { koffi } = require('./native');

const LostFn = koffi.proto('void redlock_lost_fn(uintptr_t lock, int reason, uintptr_t arg)');
const fn = koffi.register((lock, reason, arg) => {
  parentPort.postMessage({ id: Number(arg), reason });
}, koffi.pointer(LostFn));
// The main thread waits for this address synchronously (Atomics.wait), once, in the first constructor that needs it.
const slot = new BigInt64Array(workerData.shared);
Atomics.store(slot, 0, BigInt(koffi.address(fn)));
Atomics.notify(slot, 0);
parentPort.on('message', () => {});  // keeps the loop alive for the callback; the worker itself is unref'd
