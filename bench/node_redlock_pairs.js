'use strict';
// N uncontended acquire+release pairs with node-redlock 5.0.0-beta.2 (on ioredis) over the masters at these ports,
// for scripts/bench-redlock.sh. Usage: node bench/node_redlock_pairs.js N PORT... -> "node-redlock wall_us= cpu_us="
const path = require('node:path');
const modules = path.join(__dirname, '..', 'bindings', 'node', 'node_modules');  // its devDependencies
const Redis = require(path.join(modules, 'ioredis'));
const Redlock = require(path.join(modules, 'redlock')).default;

async function main() {
  const [n, ...ports] = process.argv.slice(2).map(Number);
  const clients = ports.map((p) => new Redis(p, '127.0.0.1'));
  const redlock = new Redlock(clients, { retryCount: 0, driftFactor: 0.01 });
  await (await redlock.acquire(['anchor:node-redlock'], 10000)).release();  // warm
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await (await redlock.acquire(['anchor:node-redlock'], 10000)).release();
  const wall = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  const cu = process.cpuUsage(c0);
  console.log(`node-redlock wall_us=${wall.toFixed(1)} cpu_us=${((cu.user + cu.system) / n).toFixed(1)}`);
  for (const c of clients) c.disconnect();
}
main().catch((e) => { console.error(e); process.exit(1); });
