'use strict';
// A private redis-server on a free loopback port in a temp dir; never port 6379.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function cli(port, ...args) {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).trim();
}

// `extra`: more redis-server arguments; a function of nothing, called per attempt (e.g. for a TLS port of its own).
// `config`: the text of a config file loaded first (a sentinel needs one, which it rewrites).
async function startRedis(extra = () => [], config = null) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlock-node-'));
  const conf = [];
  if (config !== null) {
    conf.push(path.join(dir, 'redis.conf'));
    fs.writeFileSync(conf[0], config);
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const proc = spawn('redis-server', [...conf, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly',
      'no', '--dir', dir, '--logfile', path.join(dir, 'redis.log'), ...(await extra())], { stdio: 'ignore' });
    for (let i = 0; i < 200; i++) {
      if (proc.exitCode !== null) break;
      try {
        if (cli(port, 'ping') === 'PONG') {
          return {
            port, url: `redis://127.0.0.1:${port}/0`, cli: (...a) => cli(port, ...a),
            stop() { proc.kill('SIGKILL'); fs.rmSync(dir, { recursive: true, force: true }); },
          };
        }
      } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 20));
    }
    proc.kill('SIGKILL');
  }
  throw new Error('redis-server did not start');
}

module.exports = { startRedis, freePort };
