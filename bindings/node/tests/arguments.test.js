'use strict';
// What callers pass: wrong types, unknown option keys and out-of-range durations are refused before anything reaches
// koffi (which would turn NaN, 1e300 or 2**63 into INT64_MIN, wrap a uint32_t, or ignore an unknown key).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { setTimeout: delay } = require('node:timers/promises');
const { Client, InvalidArgumentError, TimeoutError, ConnectionError, MAX_DURATION_MS } = require('../lib');
const arg = require('../lib/options');
const { startRedis } = require('./redis-server');

const EXTREMES = [2 ** 63, -(2 ** 63), 2 ** 53, 1e300, Infinity, -Infinity, NaN];
const HUGE = [2 ** 63, 2 ** 53, 1e300, Infinity];  // above MAX_DURATION_MS
const NEGATIVE = [-(2 ** 63), -Infinity];

let redis;
let client;
before(async () => {
  redis = await startRedis();
  client = Client.fromUrl(redis.url);
});
after(() => {
  client.close();
  redis.stop();
});

const invalid = (re) => (e) => e instanceof InvalidArgumentError && e.code === -1 && (!re || re.test(e.message));
const typeError = (re) => (e) => e instanceof TypeError && (!re || re.test(e.message));

test('MAX_DURATION_MS is the C limit, 1e12 ms', () => {
  assert.equal(MAX_DURATION_MS, 1e12);
});

test('unknown option keys are a TypeError naming the key and the known ones', async () => {
  assert.throws(() => client.lock('node:args:k', { ttl: 1000 }),
    typeError(/unknown lock option key 'ttl'; known: timeout, sleep, blocking, blockingTimeout/));
  assert.throws(() => client.lock('node:args:k', { timeout: 1000, ttl: undefined }), typeError(/'ttl'/));
  assert.throws(() => Client.fromUrl(redis.url, { timeout: 5 }),
    typeError(/unknown Client option key 'timeout'; known: connectTimeout, commandTimeout, maxConnections, keepalive, username, password, db/));
  const lock = client.lock('node:args:k', { timeout: 1000 });
  await assert.rejects(lock.acquire({ blocking_timeout: 5 }),
    typeError(/unknown acquire option key 'blocking_timeout'; known: blocking, blockingTimeout, sleep, token/));
  await assert.rejects(lock.acquire({ timeout: 5 }), typeError(/'timeout'/));  // a lock option, not an acquire one
  assert.equal(redis.cli('EXISTS', 'node:args:k'), '0');
  lock.free();
});

test('options that are not plain objects are a TypeError', async () => {
  const lock = client.lock('node:args:plain');
  for (const bad of [5, 'x', true, null, [], [1], new Map(), new Date(), () => {}, 10n]) {
    assert.throws(() => client.lock('node:args:plain', bad), typeError(/lock option must be a plain object/), String(bad));
    assert.throws(() => Client.fromUrl(redis.url, bad), typeError(/Client option must be a plain object/));
    await assert.rejects(lock.acquire(bad), typeError(/acquire option must be a plain object/));
  }
  // Objects without a prototype are plain too.
  const bare = Object.create(null);
  bare.timeout = 1000;
  client.lock('node:args:plain', bare).free();
  lock.free();
});

test('a lock name must be a non-empty string or Buffer without NUL', () => {
  for (const bad of [undefined, null, { a: 1 }, 5, true, ['x'], Symbol('s'), new Uint16Array(2)]) {
    assert.throws(() => client.lock(bad), typeError(/lock name must be a string or a Buffer/), String(typeof bad));
  }
  // Empty: the C library's check, so its message and code.
  assert.throws(() => client.lock(''), invalid(/lock name is empty/));
  assert.throws(() => client.lock(Buffer.alloc(0)), invalid(/lock name is empty/));
  assert.throws(() => client.lock('a\0b'), invalid(/NUL/));
  assert.throws(() => client.lock(Buffer.from([0x61, 0, 0x62])), invalid(/NUL/));
  // Two lone surrogates would both become U+FFFD: different names, one key.
  assert.throws(() => client.lock('x\ud800'), invalid(/lone surrogate/));
  client.lock('\u00e9\u{1f512}').free();
  assert.equal(redis.cli('KEYS', '*').split('\n').filter((k) => k === 'undefined' || k === '[object Object]').length, 0);
});

test('known options of the wrong type are a TypeError', async () => {
  const t = (fn, re) => assert.throws(fn, typeError(re));
  t(() => client.lock('node:args:t', { timeout: '10' }), /timeout must be a number, got '10'/);
  t(() => client.lock('node:args:t', { timeout: 10n }), /timeout must be a number/);
  t(() => client.lock('node:args:t', { sleep: '10' }), /sleep must be a number/);
  t(() => client.lock('node:args:t', { sleep: null }), /sleep must be a number/);
  t(() => client.lock('node:args:t', { blocking: 'yes' }), /blocking must be true or false, got 'yes'/);
  t(() => client.lock('node:args:t', { blocking: 1 }), /blocking must be true or false/);
  t(() => client.lock('node:args:t', { blockingTimeout: '10' }), /blockingTimeout must be a number/);
  t(() => Client.fromUrl(5), /url must be a string/);
  t(() => Client.fromUrl(redis.url, { connectTimeout: '10' }), /connectTimeout must be a number/);
  t(() => Client.fromUrl(redis.url, { commandTimeout: true }), /commandTimeout must be a number/);
  t(() => Client.fromUrl(redis.url, { maxConnections: '4' }), /maxConnections must be a number/);
  t(() => Client.fromUrl(redis.url, { keepalive: true }), /keepalive must be a number/);
  t(() => Client.fromUrl(redis.url, { db: '1' }), /db must be a number/);
  t(() => Client.fromUrl(redis.url, { db: null }), /db must be a number/);
  t(() => Client.fromUrl(redis.url, { username: 5 }), /username must be a string/);
  t(() => Client.fromUrl(redis.url, { password: {} }), /password must be a string/);

  const lock = client.lock('node:args:t', { timeout: 10000 });
  const r = (p, re) => assert.rejects(p, typeError(re));
  await r(lock.acquire({ blocking: 'no' }), /blocking must be true or false/);
  await r(lock.acquire({ sleep: '1' }), /sleep must be a number/);
  await r(lock.acquire({ blockingTimeout: '1' }), /blockingTimeout must be a number/);
  await r(lock.acquire({ token: 5 }), /token must be a string, got 5/);
  await r(lock.acquire({ token: null }), /token must be a string/);
  await assert.rejects(lock.acquire({ token: 'x\udfff' }), invalid(/token is not valid Unicode/));
  assert.equal(redis.cli('EXISTS', 'node:args:t'), '0');
  // A token goes to C with its length: a NUL inside is kept, as redis-py would keep it.
  assert.equal(await lock.acquire({ token: 'a\0b' }), true);
  assert.equal(lock.token, 'a\0b');
  assert.equal(redis.cli('STRLEN', 'node:args:t'), '3');
  await lock.release();
  assert.equal(await lock.acquire({ token: 'mine' }), true);
  await r(lock.extend('10'), /additionalMs must be a number/);
  await r(lock.extend(10, 'yes'), /replaceTtl must be true or false/);
  await r(lock.extend(10, 1), /replaceTtl must be true or false/);
  await lock.release();
});

test('non-duration numbers and strings: what C could not receive exactly is an InvalidArgumentError', () => {
  const i = (opts, re) => assert.throws(() => Client.fromUrl(redis.url, opts), invalid(re));
  // 0 and -1 are the C struct's "unset": an option given must not be ignored. 2**32 + 5 would wrap to 5.
  for (const v of [0, -1, 1.5, 2 ** 32 + 5, NaN, Infinity]) i({ maxConnections: v }, /maxConnections must be an integer from 1/);
  i({ maxConnections: 5000 }, /max_connections must be from 1 to 4096/);  // the C library's own range
  for (const v of [-1, 0.5, 2 ** 31, NaN]) i({ db: v }, /db must be an integer from 0 to 2147483647/);
  for (const v of [-1, 1.5, 2 ** 63, -Infinity]) i({ keepalive: v }, /keepalive must be an integer from 0/);
  i({ keepalive: 32768 }, /keepalive must be an integer from 0 to 32767/);
  i({ password: 'sec\0ret' }, /password contains a NUL byte/);
  i({ username: 'a\udc00' }, /username is not valid Unicode/);
  assert.throws(() => Client.fromUrl(`${redis.url}\0junk`), invalid(/url contains a NUL byte/));
  Client.fromUrl(redis.url, { maxConnections: 4096, db: 3, keepalive: 0, username: null, password: undefined }).close();
});

test('lock timeout: null/undefined/0 never expire; 1..MAX_DURATION_MS ms; anything else is refused', async () => {
  for (const v of EXTREMES) {
    assert.throws(() => client.lock('node:args:ttl', { timeout: v }),
      invalid(/timeout must be from 1 to MAX_DURATION_MS \(1000000000000\) ms/), String(v));
  }
  for (const v of [-1, -0.5, 0.5, MAX_DURATION_MS + 1]) {
    assert.throws(() => client.lock('node:args:ttl', { timeout: v }), invalid(/MAX_DURATION_MS/), String(v));
  }
  const cases = [[null, -1], [undefined, -1], [0, -1], [1500.9, 1500], [MAX_DURATION_MS, MAX_DURATION_MS]];
  for (const [timeout, most] of cases) {
    const lock = client.lock('node:args:ttl', { timeout });
    assert.equal(await lock.acquire(), true);
    const pttl = Number(redis.cli('PTTL', 'node:args:ttl'));
    if (most === -1) assert.equal(pttl, -1, `timeout ${timeout}`);
    else assert.ok(pttl <= most && pttl > most - 1000, `timeout ${timeout}: PTTL ${pttl}`);
    await lock.release();
    lock.free();
  }
});

test('sleep: 0..MAX_DURATION_MS ms, in the lock options and per acquire', async () => {
  const lock = client.lock('node:args:sleep', { timeout: 10000, blocking: false });
  for (const v of [...EXTREMES, -1, -0.5, MAX_DURATION_MS + 1]) {
    assert.throws(() => client.lock('node:args:sleep', { sleep: v }),
      invalid(/sleep must be from 0 to MAX_DURATION_MS \(1000000000000\) ms/), String(v));
    await assert.rejects(lock.acquire({ sleep: v }), invalid(/sleep must be from 0 to MAX_DURATION_MS/), String(v));
  }
  assert.equal(client.lock('node:args:sleep', { sleep: 0.9 }).sleep, 0);
  assert.equal(client.lock('node:args:sleep', { sleep: MAX_DURATION_MS }).sleep, MAX_DURATION_MS);
  assert.equal(await lock.acquire({ sleep: MAX_DURATION_MS }), true);
  await lock.release();
});

test('blockingTimeout: null, Infinity or > MAX_DURATION_MS wait forever; negative is one attempt; NaN is refused',
  async () => {
    for (const v of HUGE) assert.equal(client.lock('node:args:bt', { blockingTimeout: v }).blockingTimeout, null);
    for (const v of NEGATIVE) assert.equal(client.lock('node:args:bt', { blockingTimeout: v }).blockingTimeout, 0);
    assert.equal(client.lock('node:args:bt', { blockingTimeout: MAX_DURATION_MS }).blockingTimeout, MAX_DURATION_MS);
    assert.equal(client.lock('node:args:bt', { blockingTimeout: MAX_DURATION_MS + 1 }).blockingTimeout, null);
    assert.equal(client.lock('node:args:bt', { blockingTimeout: 99.9 }).blockingTimeout, 99);
    assert.throws(() => client.lock('node:args:bt', { blockingTimeout: NaN }), invalid(/blockingTimeout.*NaN/));

    const holder = client.lock('node:args:bt', { timeout: 10000 });
    const waiter = client.lock('node:args:bt', { timeout: 10000, sleep: 10 });
    await assert.rejects(waiter.acquire({ blockingTimeout: NaN }), invalid(/blockingTimeout.*NaN/));
    assert.equal(await holder.acquire(), true);
    for (const v of [...NEGATIVE, -1]) {
      const t0 = performance.now();
      assert.equal(await waiter.acquire({ blockingTimeout: v }), false, String(v));
      assert.ok(performance.now() - t0 < 500, `${v}: more than one attempt`);
    }
    // Waits forever: still waiting well after an immediate give-up, then acquires once the holder lets go.
    for (const v of HUGE) {
      if (!(await holder.owned())) assert.equal(await holder.acquire(), true);
      let settled = false;
      const p = waiter.acquire({ blockingTimeout: v }).finally(() => { settled = true; });
      await delay(150);
      assert.equal(settled, false, `${v}: gave up`);
      await holder.release();
      assert.equal(await p, true, String(v));
      await waiter.release();
    }
  });

test('extend: 0..MAX_DURATION_MS ms, added or as the new TTL', async () => {
  const lock = client.lock('node:args:extend', { timeout: 10000 });
  assert.equal(await lock.acquire(), true);
  for (const v of [...EXTREMES, -1, -0.5, MAX_DURATION_MS + 1]) {
    for (const replace of [false, true]) {
      await assert.rejects(lock.extend(v, replace),
        invalid(/additionalMs must be from 0 to MAX_DURATION_MS \(1000000000000\) ms/), `${v} ${replace}`);
    }
  }
  assert.ok(Number(redis.cli('PTTL', 'node:args:extend')) <= 10000);  // none of those reached Redis
  await lock.extend(MAX_DURATION_MS, true);
  assert.ok(Number(redis.cli('PTTL', 'node:args:extend')) > MAX_DURATION_MS - 1000);
  await lock.extend(1000.9, true);
  assert.ok(Number(redis.cli('PTTL', 'node:args:extend')) <= 1000);
  await assert.rejects(lock.extend(0.5, true), invalid(/replaced TTL must be > 0/));  // truncated to 0: C refuses it
  await lock.release();
});

test('connectTimeout and commandTimeout: null, Infinity or > MAX_DURATION_MS = no limit (-1); <= 0 or NaN refused',
  async () => {
    for (const what of ['connectTimeout', 'commandTimeout']) {
      for (const v of [...NEGATIVE, NaN, 0, -1, 0.5]) {
        assert.throws(() => Client.fromUrl(redis.url, { [what]: v }), invalid(new RegExp(`${what} must be >= 1 ms`)),
          `${what} ${v}`);
      }
      for (const v of [null, ...HUGE, MAX_DURATION_MS + 1]) assert.equal(arg.clientTimeout(v, what), -1, String(v));
      assert.equal(arg.clientTimeout(MAX_DURATION_MS, what), MAX_DURATION_MS);
      assert.equal(arg.clientTimeout(1.9, what), 1);
      for (const v of [null, ...HUGE, MAX_DURATION_MS]) {
        const c = Client.fromUrl(redis.url, { [what]: v });
        assert.equal(await c.ping(), true);
        c.close();
      }
    }

    // Against a server that accepts and never answers: a limit gives up, "no limit" keeps waiting. To end the wait
    // the server drops the connection and refuses the client's one retry.
    const sockets = new Set();
    let answering = true;
    const silent = net.createServer((s) => {
      if (!answering) return s.destroy();
      sockets.add(s);
      s.on('error', () => {});  // a client that gives up resets the connection (RST), on purpose
      s.on('close', () => sockets.delete(s));
    });
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    const url = `redis://127.0.0.1:${silent.address().port}/0`;
    try {
      const limited = Client.fromUrl(url, { commandTimeout: 100 });
      await assert.rejects(limited.ping(), TimeoutError);
      limited.close();
      for (const v of [null, ...HUGE]) {
        answering = true;
        const c = Client.fromUrl(url, { commandTimeout: v });
        let settled = false;
        const p = c.ping().finally(() => { settled = true; });
        await delay(300);
        assert.equal(settled, false, `commandTimeout ${v} gave up`);
        answering = false;
        for (const s of sockets) s.destroy();
        await assert.rejects(p, ConnectionError);
        c.close();
      }
    } finally {
      silent.close();
    }
  });

test('a sleep longer than a Node timer (2^31 - 1 ms) is waited in full, not fired after 1 ms', () => {
  // In a child process: the waiter then sleeps for weeks and would keep the test process alive.
  const code = `
    const { Client } = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    const c = Client.fromUrl(${JSON.stringify(redis.url)});
    (async () => {
      const holder = c.lock('node:args:longsleep', { timeout: 10000 });
      await holder.acquire();
      const waiter = c.lock('node:args:longsleep', { sleep: 2 ** 31 + 1000 });
      waiter.acquire();
      setTimeout(async () => {
        console.log(require('node:child_process').execFileSync('redis-cli', ['-p', '${redis.port}', 'INFO', 'commandstats'],
          { encoding: 'utf8' }).match(/cmdstat_set:calls=(\\d+)/)[1]);
        process.exit(0);
      }, 300);
    })();`;
  const before = Number(/cmdstat_set:calls=(\d+)/.exec(redis.cli('INFO', 'commandstats'))?.[1] ?? 0);
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning/);
  // The holder's SET, the waiter's first attempt, then its wait in the library: an attempt, and one more after
  // subscribing to the release channel. Nothing more within 300 ms: no timer fired early.
  assert.equal(Number(r.stdout.trim()) - before, 4, 'no attempt beyond the first ones of the wait');
});
