'use strict';
// Redlock over independent masters from Node, and against node-redlock 5.0.0-beta.2 on the same five masters.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const Redis = require('ioredis');
const Redlock = require('redlock').default;
const { Client, LockNotOwnedError, ConnectionError, InvalidArgumentError, codes } = require('../lib');
const { startRedis } = require('./redis-server');

let masters = [];
let client;
before(async () => {
  masters = await Promise.all([0, 1, 2, 3, 4].map(() => startRedis()));
  client = Client.fromUrls(masters.map((m) => m.url), { commandTimeout: 1000, connectTimeout: 1000 });
});
after(() => {
  client.close();
  for (const m of masters) m.stop();
});

const holding = (key, value) => masters.filter((m) => m.cli('GET', key) === value).length;

test('a quorum lock: one token on every master, a validity, a release that frees all', async () => {
  assert.deepEqual(client.urls, masters.map((m) => m.url));
  const lock = client.lock('nodeq:basic', { timeout: 10000 });
  assert.equal(lock.validity, null);
  assert.equal(await lock.acquire(), true);
  assert.ok(lock.validity > 8000 && lock.validity <= 10000 - 102, `validity ${lock.validity}`);
  for (let i = 0; i < 100 && holding('nodeq:basic', lock.token) < 5; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(holding('nodeq:basic', lock.token), 5);
  const other = client.lock('nodeq:basic', { timeout: 10000, blocking: false });
  assert.equal(await other.acquire(), false);
  await lock.extend(5000);
  assert.ok(lock.validity > 13000);
  for (const m of masters.slice(0, 3)) m.cli('DEL', 'nodeq:basic');
  await assert.rejects(lock.extend(1000), (e) => e instanceof LockNotOwnedError && /3 needed/.test(e.message));
  await assert.rejects(lock.release(), (e) => e instanceof LockNotOwnedError && e.outcomes.length === 5);
  assert.deepEqual(lock.outcomes.slice(0, 3), [codes.ENOTOWNED, codes.ENOTOWNED, codes.ENOTOWNED]);
  // the two that had it released it all the same (answering, or not waited for once three had said no)
  for (const code of lock.outcomes.slice(3)) assert.ok(code === codes.OK || code === codes.ETIMEDOUT);
  for (let i = 0; i < 100 && holding('nodeq:basic', '') < 5; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(holding('nodeq:basic', ''), 5);
  await client.ping();
  assert.deepEqual(client.outcomes, [0, 0, 0, 0, 0]);
  lock.free();
  other.free();
});

test('quorum arguments are checked', () => {
  assert.throws(() => Client.fromUrls(masters[0].url), TypeError);
  assert.throws(() => Client.fromUrls([]), InvalidArgumentError);
  assert.throws(() => Client.fromUrls([masters[0].url, masters[0].url]), /same server/);
  assert.throws(() => client.lock('nodeq:nottl'), InvalidArgumentError);  // needs a TTL
  assert.throws(() => client.lock('nodeq:fence', { timeout: 1000, fencing: true }), /fencing/);
});

test('node-redlock and libredlock exclude each other on the same five masters', async () => {
  const conns = masters.map((m) => new Redis(m.port, '127.0.0.1', { maxRetriesPerRequest: 0 }));
  const theirs = new Redlock(conns, { retryCount: 0, driftFactor: 0.01 });
  try {
    // theirs first: ours is refused by every master
    const held = await theirs.acquire(['nodeq:interop'], 10000);
    const ours = client.lock('nodeq:interop', { timeout: 10000, blocking: false });
    assert.equal(await ours.acquire(), false);
    await held.release();
    // ours first: theirs cannot get a majority
    assert.equal(await ours.acquire(), true);
    assert.equal(masters.filter((m) => m.cli('GET', 'nodeq:interop') === ours.token).length >= 3, true);
    await assert.rejects(theirs.acquire(['nodeq:interop'], 10000));
    await ours.release();
    const again = await theirs.acquire(['nodeq:interop'], 10000);
    await again.release();
    ours.free();
  } finally {
    for (const r of conns) r.disconnect();
  }
});

test('three masters down: a connection error, and no key left on the survivors', async () => {
  const five = await Promise.all([0, 1, 2, 3, 4].map(() => startRedis()));
  const c = Client.fromUrls(five.map((m) => m.url), { commandTimeout: 500, connectTimeout: 500 });
  try {
    for (const m of five.slice(0, 3)) m.stop();
    const lock = c.lock('nodeq:down', { timeout: 5000, blockingTimeout: 500 });
    await assert.rejects(lock.acquire(), (e) => e instanceof ConnectionError && /3 needed/.test(e.message));
    assert.equal(five.slice(3).filter((m) => m.cli('EXISTS', 'nodeq:down') !== '0').length, 0);
    lock.free();
  } finally {
    c.close();
    for (const m of five.slice(3)) m.stop();
  }
});
