'use strict';
// Every ```js block in the docs is a complete CommonJS program: it runs as written, with require('libredlock')
// resolved through NODE_PATH, against the URL in argv[2] or REDLOCK_URL, and exits 0 by itself.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startRedis } = require('./redis-server');

const root = path.join(__dirname, '..', '..', '..');
const pages = [path.join(root, 'README.md'), ...fs.readdirSync(path.join(root, 'docs'))
  .filter((f) => f.endsWith('.md')).map((f) => path.join(root, 'docs', f))];

function blocks() {
  const out = [];
  for (const page of pages) {
    const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
    const text = fs.readFileSync(page, 'utf8');
    for (let m; (m = re.exec(text));) {
      if (['js', 'javascript', 'mjs', 'cjs', 'node'].includes(m[1])) {
        out.push({ where: `${path.relative(root, page)}:${text.slice(0, m.index).split('\n').length}`, tag: m[1], code: m[2] });
      }
    }
  }
  return out;
}

let redis;
let nodePath;
before(async () => {
  redis = await startRedis();
  nodePath = fs.mkdtempSync(path.join(os.tmpdir(), 'redlock-docs-'));
  fs.symlinkSync(path.join(__dirname, '..'), path.join(nodePath, 'libredlock'));
  fs.mkdirSync(path.join(nodePath, 'app'));
});
after(() => {
  redis.stop();
  fs.rmSync(nodePath, { recursive: true, force: true });
});

test('the Node page has programs, all tagged js', () => {
  const found = blocks();
  assert.ok(found.filter((b) => b.where.startsWith('docs/getting-started-node.md')).length >= 2);
  for (const b of found) assert.equal(b.tag, 'js', `${b.where}: tag ${b.tag}`);
});

test('every js block in the docs runs as written and exits 0', () => {
  for (const b of blocks()) {
    assert.match(b.code, /require\('libredlock'\)/, `${b.where}: requires the package by name`);
    assert.match(b.code, /process\.argv\[2\] \|\| process\.env\.REDLOCK_URL \|\| 'redis:\/\/127\.0\.0\.1:6379\/0'/,
      `${b.where}: takes its URL from argv[2], REDLOCK_URL, then the default`);
    for (const [, name] of b.code.matchAll(/\.lock\('([^']*)'/g)) assert.match(name, /^docs:js:/, b.where);
    const env = { ...process.env, NODE_PATH: nodePath };
    delete env.REDLOCK_URL;
    // As a file (`node -e` would shift argv), once with the URL as an argument, once from REDLOCK_URL.
    const file = path.join(nodePath, 'app', 'app.js');
    fs.writeFileSync(file, b.code);
    for (const [args, extra] of [[[redis.url], {}], [[], { REDLOCK_URL: redis.url }]]) {
      const r = spawnSync(process.execPath, [file, ...args],
        { cwd: path.dirname(file), env: { ...env, ...extra }, encoding: 'utf8', timeout: 20000 });
      assert.equal(r.signal, null, `${b.where}: did not exit by itself`);
      assert.equal(r.status, 0, `${b.where}:\n${r.stderr}`);
    }
  }
  // Every lock is freed: nothing left behind on the server.
  assert.equal(redis.cli('KEYS', 'docs:js:*'), '');
});
