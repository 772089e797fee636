'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const {
  Client, LockError, LockNotOwnedError, ConnectionError, TimeoutError, AuthenticationError, InvalidArgumentError,
  libraryVersion, codes,
} = require('../lib');
const { startRedis, freePort } = require('./redis-server');

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

test('acquire stores the token in the key; release deletes it', async () => {
  const [major, minor] = require('../package.json').version.split('.');  // the package and the library agree
  assert.match(libraryVersion(), new RegExp(`^${major}\\.${minor}\\.`));
  const lock = client.lock('node:basic', { timeout: 10000 });
  assert.equal(lock.token, null);
  assert.equal(await lock.acquire(), true);
  assert.match(lock.token, /^[0-9a-f]{32}$/);
  assert.equal(redis.cli('GET', 'node:basic'), lock.token);
  const ttl = Number(redis.cli('PTTL', 'node:basic'));
  assert.ok(ttl > 8000 && ttl <= 10000);
  assert.equal(await lock.locked(), true);
  assert.equal(await lock.owned(), true);
  await lock.release();
  assert.equal(redis.cli('EXISTS', 'node:basic'), '0');
  await assert.rejects(lock.release(), LockError);
  lock.free();
});

test('competing locks, caller token, extend and reacquire, errors in redis-py order', async () => {
  const a = client.lock('node:compete', { timeout: 10000 });
  const b = client.lock('node:compete', { timeout: 10000, blocking: false });
  assert.equal(await a.acquire({ token: 'tok-a' }), true);
  assert.equal(redis.cli('GET', 'node:compete'), 'tok-a');
  assert.equal(await b.acquire(), false);
  assert.equal(await b.owned(), false);
  await a.extend(10000);
  assert.ok(Number(redis.cli('PTTL', 'node:compete')) > 16000);
  await a.extend(5000, true);
  assert.ok(Number(redis.cli('PTTL', 'node:compete')) <= 5000);
  redis.cli('PEXPIRE', 'node:compete', '1000');
  await a.reacquire();
  assert.ok(Number(redis.cli('PTTL', 'node:compete')) > 8000);
  redis.cli('SET', 'node:compete', 'someone-else');
  await assert.rejects(a.extend(1000), LockNotOwnedError);
  await assert.rejects(a.release(), LockNotOwnedError);
  await assert.rejects(a.release(), LockError);  // token cleared by the failed release

  const forever = client.lock('node:forever');
  assert.equal(await forever.acquire(), true);
  await assert.rejects(forever.extend(1000), (e) => e instanceof LockError && /no timeout/.test(e.message));
  await forever.release();
});

test('blockingTimeout gives up in time and the event loop keeps running meanwhile', async () => {
  const holder = client.lock('node:wait', { timeout: 10000 });
  const waiter = client.lock('node:wait', { timeout: 10000, sleep: 50, blockingTimeout: 400 });
  assert.equal(await holder.acquire(), true);
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 10);
  const t0 = performance.now();
  assert.equal(await waiter.acquire(), false);
  const took = performance.now() - t0;
  clearInterval(timer);
  assert.ok(took >= 350 && took < 2000, `took ${took} ms`);
  assert.ok(ticks >= 15, `event loop ticked only ${ticks} times`);
  assert.equal(await waiter.acquire({ blockingTimeout: 0 }), false);

  setTimeout(() => { holder.release(); }, 100);
  assert.equal(await waiter.acquire({ blockingTimeout: 3000, sleep: 10 }), true);
  await waiter.release();
});

test('the default token state is shared by the handle: release works from another worker thread', async () => {
  // Why SHARED: a lock's calls are spread over worker threads. Here the acquire runs on one worker; while that
  // worker is kept busy, the release necessarily runs on another. With per-thread tokens it would be refused.
  const lock = client.lock('node:threads', { timeout: 10000 });
  const other = client.lock('node:threads-other', { timeout: 10000 });
  assert.equal(await lock.acquire(), true);
  const acquiredOn = lock.lastThreadId;
  const [, released] = await Promise.all([other.locked(), lock.release().then(() => lock.lastThreadId)]);
  assert.notEqual(released, acquiredOn);
  assert.equal(redis.cli('EXISTS', 'node:threads'), '0');
});

test('using() holds the lock around the callback and releases on throw', async () => {
  const lock = client.lock('node:using', { timeout: 10000, blockingTimeout: 100 });
  const seen = await lock.using(async () => redis.cli('GET', 'node:using'));
  assert.match(seen, /^[0-9a-f]{32}$/);
  assert.equal(redis.cli('EXISTS', 'node:using'), '0');
  await assert.rejects(lock.using(async () => { throw new Error('boom'); }), /boom/);
  assert.equal(redis.cli('EXISTS', 'node:using'), '0');
  redis.cli('SET', 'node:using', 'taken');
  await assert.rejects(lock.using(async () => 1), LockError);
});

test('many concurrent acquirers on one name: never two holders', async () => {
  const locks = Array.from({ length: 8 }, () => client.lock('node:many', { timeout: 10000, sleep: 2 }));
  let inside = 0;
  let worst = 0;
  let grants = 0;
  await Promise.all(locks.map(async (l) => {
    for (let i = 0; i < 5; i++) {
      await l.using(async () => {
        inside++;
        worst = Math.max(worst, inside);
        grants++;
        await new Promise((r) => setTimeout(r, 1));
        inside--;
      });
    }
  }));
  assert.equal(worst, 1);
  assert.equal(grants, 40);
});

test('errors carry the library message', async () => {
  assert.throws(() => Client.fromUrl('http://x'), (e) => e instanceof InvalidArgumentError && /unsupported scheme/.test(e.message));
  assert.throws(() => client.lock(''), InvalidArgumentError);
  assert.throws(() => Client.fromUrl(redis.url, { commandTimeout: 0 }), InvalidArgumentError);
  assert.throws(() => client.lock('x', { timeout: -1 }), InvalidArgumentError);
  const dead = Client.fromUrl('redis://127.0.0.1:1', { connectTimeout: 500 });
  await assert.rejects(dead.ping(), (e) => e instanceof ConnectionError && /cannot connect/.test(e.message) && e.code === -5);
  await assert.rejects(dead.lock('x').acquire(), ConnectionError);
  const wrong = Client.fromUrl(redis.url.replace('redis://', 'redis://:nope@'));
  await assert.rejects(wrong.ping(), AuthenticationError);
});

test('a missing library or symbol is a clear error at require time', () => {
  const load = (libPath) => {
    try {
      execFileSync(process.execPath, ['-e', "require('./lib')"], {
        cwd: require('node:path').join(__dirname, '..'), env: { ...process.env, LIBREDLOCK_PATH: libPath }, stdio: 'pipe',
      });
      return '';
    } catch (e) {
      return e.stderr.toString();
    }
  };
  assert.match(load('/nonexistent/libredlock.so'), /LIBREDLOCK_PATH does not name a loadable libredlock\.so/);
  const hiredis = execFileSync('sh', ['-c', 'ls /usr/lib/*/libhiredis.so* | head -1'], { encoding: 'utf8' }).trim();
  assert.match(load(hiredis), /is not a compatible libredlock \(redlock_strerror/);
});

test('excludes redis-py on the same name, both ways', async () => {
  const py = (code) => execFileSync('/usr/bin/python3', ['-c', `import redis; r = redis.Redis(port=${redis.port}); ${code}`],
    { encoding: 'utf8' }).trim();
  const lock = client.lock('node:interop', { timeout: 10000, blocking: false });
  assert.equal(await lock.acquire(), true);
  assert.equal(py("print(r.lock('node:interop', timeout=10).acquire(blocking=False))"), 'False');
  await lock.release();
  const theirToken = py("l = r.lock('node:interop', timeout=10); l.acquire(blocking=False); print(l.local.token.decode())");
  assert.equal(await lock.acquire(), false);
  assert.equal(await lock.locked(), true);
  py(`l = r.lock('node:interop', timeout=10); l.local.token = b'${theirToken}'; l.release()`);
  assert.equal(await lock.acquire(), true);
  await lock.release();
});

test('fencing: fences strictly increase per name across locks, null when not held', async () => {
  const a = client.lock('node:fence', { timeout: 10000, fencing: true });
  const b = client.lock('node:fence', { timeout: 10000, fencing: true });
  assert.equal(a.fence, null);
  const fences = [];
  for (const l of [a, b, a]) {
    assert.equal(await l.acquire(), true);
    fences.push(l.fence);
    await l.release();
    assert.equal(l.fence, null);
  }
  assert.ok(fences[0] < fences[1] && fences[1] < fences[2], String(fences));
  assert.equal(redis.cli('GET', '{node:fence}:fence'), String(fences[2]));
  const plain = client.lock('node:plain', { timeout: 10000 });
  assert.throws(() => plain.fence, InvalidArgumentError);
  assert.throws(() => client.lock('node:fence', { fencing: 'yes' }), TypeError);
  a.free(); b.free(); plain.free();
});

test('after a SET whose reply was lost, the next acquire retries the kept token and holds a late SET', async () => {
  // A proxy that holds the first SET for 300 ms: the client gives up at 100 ms, then the SET lands.
  const net = require('node:net');
  let held = false;
  const sockets = [];
  const proxy = net.createServer((down) => {
    const up = net.connect(redis.port, '127.0.0.1');
    sockets.push(down, up);
    down.on('error', () => {});
    up.on('error', () => {});
    up.on('data', (d) => { if (!down.destroyed) down.write(d); });
    down.on('data', (d) => {
      if (!held && d.includes('\r\nSET\r\n')) {
        held = true;
        setTimeout(() => up.write(d), 300);  // delivered late, even after the client left
      } else {
        up.write(d);
      }
    });
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const c = Client.fromUrl(`redis://127.0.0.1:${proxy.address().port}/0`, { commandTimeout: 100 });
  const lock = c.lock('node:late-set', { timeout: 10000 });
  await assert.rejects(lock.acquire(), TimeoutError);
  for (let i = 0; i < 50 && redis.cli('EXISTS', 'node:late-set') !== '1'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(redis.cli('EXISTS', 'node:late-set'), '1');  // the late SET landed, holding the kept token
  assert.equal(await lock.acquire({ blocking: false }), true);  // retried with it: held at once, not busy forever
  await lock.release();
  assert.equal(redis.cli('EXISTS', 'node:late-set'), '0');
  lock.free();
  c.close();
  for (const s of sockets) s.destroy();
  proxy.close();
});

test('autoRenew keeps a 300 ms lock held past its TTL; release ends the renewals', async () => {
  const lock = client.lock('node:renew', { timeout: 300, autoRenew: true });
  assert.equal(await lock.acquire(), true);
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(await lock.owned(), true);
  await lock.release();
  assert.equal(redis.cli('EXISTS', 'node:renew'), '0');
  assert.throws(() => client.lock('node:renew', { autoRenew: true }), /autoRenew needs a timeout/);  // no TTL
  assert.throws(() => client.lock('node:renew', { timeout: 300, onLost: () => {} }), InvalidArgumentError);
  assert.throws(() => client.lock('node:renew', { timeout: 300, autoRenew: true, onLost: 'x' }), TypeError);
  lock.free();
});

test('onLost runs on the event loop when the key is taken, even while the main thread is busy', async () => {
  let calls = [];
  const lock = client.lock('node:lost', {
    timeout: 300, autoRenew: true, onLost: (l, error) => calls.push({ same: l === lock, error }),
  });
  const other = client.lock('node:busy', { timeout: 300, autoRenew: true, onLost: () => calls.push('busy lost') });
  assert.equal(await lock.acquire(), true);
  assert.equal(await other.acquire(), true);
  // A main thread stuck for 1 s (three TTLs) does not stop renewals: the callback does not run here.
  const end = Date.now() + 1000;
  while (Date.now() < end);
  assert.equal(await other.owned(), true);
  redis.cli('SET', 'node:lost', 'someone-else', 'PX', '10000');
  for (let i = 0; i < 100 && calls.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(calls.length, 1);
  assert.equal(calls[0].same, true);
  assert.ok(calls[0].error instanceof LockNotOwnedError);
  assert.equal(await lock.owned(), false);
  await assert.rejects(lock.release(), LockNotOwnedError);
  assert.equal(redis.cli('GET', 'node:lost'), 'someone-else');
  await other.release();
  lock.free();
  other.free();
});

test('a process with auto-renewed locks and callbacks in flight exits cleanly', () => {
  const code = `
    const { Client } = require(${JSON.stringify(require.resolve('../lib'))});
    const { execFileSync } = require('node:child_process');
    const c = new Client(process.argv[1]);
    const a = c.lock('node:exit-a', { timeout: 300, autoRenew: true, onLost: () => console.log('lost') });
    const b = c.lock('node:exit-b', { timeout: 300, autoRenew: true, onLost: () => {} });
    (async () => {
      await a.acquire(); await b.acquire();
      execFileSync('redis-cli', ['-u', process.argv[1], 'DEL', 'node:exit-a']);
      setTimeout(() => { console.log('bye'); process.exit(0); }, 100 + Number(process.argv[2]));
    })();`;
  for (const delay of [0, 90, 150]) {
    const out = execFileSync(process.execPath, ['-e', code, redis.url, String(delay)], { encoding: 'utf8', timeout: 20000 });
    assert.ok(out.trim().endsWith('bye'), out);
  }
});

test('a release wakes waiters at once; more waiters than wait threads still all get the lock', async () => {
  const holderClient = Client.fromUrl(redis.url);
  const holder = holderClient.lock('node:wake', { timeout: 30000 });
  assert.equal(await holder.acquire(), true);
  const waiters = [];
  for (let i = 0; i < 12; i++) waiters.push(client.lock('node:wake', { timeout: 30000, sleep: 300 }));
  const got = [];
  const start = performance.now();
  const done = waiters.map(async (w, i) => {
    assert.equal(await w.acquire({ blockingTimeout: 20000 }), true);
    got.push(i);
    await w.release();
  });
  await new Promise((r) => setTimeout(r, 200));
  await holder.release();
  await Promise.all(done);
  assert.equal(got.length, 12);
  // 8 are woken by each release; the 4 beyond the wait threads poll every 300 ms: far below 12 polls in a row.
  assert.ok(performance.now() - start < 200 + 12 * 300, `took ${performance.now() - start} ms`);

  const single = client.lock('node:wake', { timeout: 30000, sleep: 10000 });
  assert.equal(await holder.acquire(), true);
  setTimeout(() => holder.release(), 200);
  const t0 = performance.now();
  assert.equal(await single.acquire({ blockingTimeout: 5000 }), true);
  assert.ok(performance.now() - t0 < 200 + 800, 'woken by the release, not the 10 s poll');
  await single.release();
  for (const w of [...waiters, single, holder]) w.free();
  holderClient.close();
});

test('fair: waiters keep their place across the slices of their waits, and take turns in order', async () => {
  const holder = client.lock('node:fair', { timeout: 30000, fair: true });
  assert.equal(await holder.acquire(), true);
  const order = [];
  const locks = [0, 1, 2].map(() => client.lock('node:fair', { timeout: 30000, fair: true }));
  const done = [];
  for (let i = 0; i < 3; i++) {
    done.push((async () => {
      assert.equal(await locks[i].acquire({ blockingTimeout: 10000 }), true);
      order.push(i);
      await new Promise((r) => setTimeout(r, 50));
      await locks[i].release();
    })());
    for (let k = 0; k < 100 && Number(redis.cli('ZCARD', '{node:fair}:queue')) < i + 1; k++) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  await new Promise((r) => setTimeout(r, 2500));  // past a 1 s slice of each wait: places kept
  assert.equal(redis.cli('ZCARD', '{node:fair}:queue'), '3');
  await holder.release();
  await Promise.all(done);
  assert.deepEqual(order, [0, 1, 2]);
  // A waiter that gives up leaves the queue at once (its last slice runs to the deadline).
  const busy = client.lock('node:fair', { timeout: 30000, fair: true });
  assert.equal(await busy.acquire(), true);
  const impatient = client.lock('node:fair', { timeout: 30000, fair: true });
  for (const ms of [300, 1500]) {
    assert.equal(await impatient.acquire({ blockingTimeout: ms }), false);
    assert.equal(redis.cli('ZCARD', '{node:fair}:queue'), '0', `after a ${ms} ms wait`);
  }
  await busy.release();
  const fenced = client.lock('node:fair', { timeout: 1000, fair: true, fencing: true });
  assert.equal(await fenced.acquire(), true);
  assert.ok(fenced.fence > 0);
  await fenced.release();
  assert.throws(() => client.lock('node:fair{', { timeout: 1000, fair: true }), InvalidArgumentError);
  for (const l of [holder, ...locks, fenced, busy, impatient]) l.free();
});

test('TLS: rediss:// with tlsCaFile, and a clear error for an untrusted CA', async () => {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlock-node-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ssl = (...args) => execFileSync('openssl', args, { stdio: 'ignore' });
  fs.writeFileSync(path.join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const ca of ['ca', 'other-ca']) {
    ssl('req', '-x509', ...ec, '-keyout', `${dir}/${ca}.key`, '-out', `${dir}/${ca}.crt`, '-days', '2', '-subj', `/CN=${ca}`);
  }
  ssl('req', ...ec, '-keyout', `${dir}/s.key`, '-out', `${dir}/s.csr`, '-subj', '/CN=s');
  ssl('x509', '-req', '-in', `${dir}/s.csr`, '-CA', `${dir}/ca.crt`, '-CAkey', `${dir}/ca.key`, '-CAcreateserial',
    '-out', `${dir}/s.crt`, '-days', '2', '-extfile', `${dir}/ext`);
  let tlsPort = 0;
  const tls = await startRedis(async () => {
    tlsPort = await freePort();
    return ['--tls-port', String(tlsPort), '--tls-cert-file', `${dir}/s.crt`, '--tls-key-file', `${dir}/s.key`,
      '--tls-ca-cert-file', `${dir}/ca.crt`, '--tls-auth-clients', 'no'];
  });
  try {
    const c = new Client(`rediss://localhost:${tlsPort}`, { tlsCaFile: `${dir}/ca.crt` });
    const lock = c.lock('node:tls', { timeout: 10000 });
    assert.equal(await lock.acquire(), true);
    assert.equal(tls.cli('GET', 'node:tls'), lock.token);
    await lock.release();
    lock.free();
    c.close();
    const bad = new Client(`rediss://127.0.0.1:${tlsPort}`, { tlsCaFile: `${dir}/other-ca.crt`, connectTimeout: 2000 });
    await assert.rejects(bad.ping(), /not trusted/);
    bad.close();
    assert.throws(() => new Client(`redis://127.0.0.1:${tlsPort}`, { tlsCaFile: `${dir}/ca.crt` }), InvalidArgumentError);
  } finally {
    tls.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('redis+sentinel://: the lock reaches the master the sentinel names; sentinel credentials go to the sentinels',
  async () => {
    const master = await startRedis();
    const sentinel = await startRedis(() => ['--sentinel'],
      `sentinel monitor mymaster 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds mymaster 1000\n`);
    try {
      const c = new Client(`redis+sentinel://127.0.0.1:${sentinel.port}/mymaster`);
      assert.equal(await c.ping(), true);
      const lock = c.lock('node:sentinel', { timeout: 10000 });
      assert.equal(await lock.acquire(), true);
      assert.equal(master.cli('GET', 'node:sentinel'), lock.token);
      await lock.release();
      assert.equal(master.cli('EXISTS', 'node:sentinel'), '0');
      lock.free();
      c.close();
      const wrong = new Client(`redis+sentinel://127.0.0.1:${sentinel.port}/mymaster`, { sentinelPassword: 'nope' });
      await assert.rejects(wrong.ping(), AuthenticationError);
      wrong.close();
      assert.throws(() => new Client(master.url, { sentinelPassword: 'x' }), /sentinelPassword need a redis\+sentinel/);
    } finally {
      sentinel.stop();
      master.stop();
    }
  });

test('using(): an acquire of unknown outcome is taken back before the error surfaces', async () => {
  const c = new Client(redis.url);
  const lock = c.lock('node:using:unknown', { timeout: 30000 });
  const real = lock.acquire.bind(lock);
  lock.acquire = async (...a) => {
    await real(...a);  // the SET lands...
    throw new ConnectionError('read failed: Connection reset by peer', codes.ECONN);  // ...and its reply is lost
  };
  await assert.rejects(lock.using(async () => assert.fail('the callback ran')), ConnectionError);
  assert.equal(redis.cli('EXISTS', 'node:using:unknown'), '0');
  lock.free();
  c.close();
});

test('status() shows the key whoever holds it; releaseToken() deletes only with the right token', async () => {
  const owner = client.lock('node:status', { timeout: 20000 });
  const op = client.lock('node:status');
  assert.deepEqual(await op.status(), { held: false, ttl: null, value: null, valueBytes: 0 });
  assert.equal(await owner.acquire(), true);
  const s = await op.status();
  assert.equal(s.held, true);
  assert.ok(s.ttl > 19000 && s.ttl <= 20000, String(s.ttl));
  assert.equal(s.value.toString(), owner.token);
  assert.equal(s.valueBytes, 32);
  await assert.rejects(op.releaseToken('not-it'), LockNotOwnedError);
  assert.equal(redis.cli('EXISTS', 'node:status'), '1');
  await op.releaseToken(s.value);
  assert.equal(redis.cli('EXISTS', 'node:status'), '0');
  await assert.rejects(owner.release(), LockNotOwnedError);
  redis.cli('SET', 'node:status', 'x'.repeat(5000));
  const big = await op.status();
  assert.deepEqual([big.held, big.ttl, big.value.length, big.valueBytes], [true, null, 4096, 5000]);
  redis.cli('DEL', 'node:status');
  await assert.rejects(op.releaseToken(''), InvalidArgumentError);
  await assert.rejects(op.releaseToken(5), TypeError);
  owner.free();
  op.free();
});
