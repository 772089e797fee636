// libredlock from Node.js: promises, times in milliseconds. Usage: node node_example.js REDIS_URL
'use strict';
const { Client, LockError } = require('../bindings/node/lib');

async function main() {
  const client = Client.fromUrl(process.argv[2]);
  const nightly = client.lock('example:nightly', { timeout: 30000, blockingTimeout: 5000 });
  await nightly.using(async (lock) => {
    console.log(`holding example:nightly with token ${lock.token}`);
  });

  const job = client.lock('example:job', { timeout: 30000 });
  if (!(await job.acquire())) throw new Error('busy');
  await job.extend(10000);
  await job.release();
  console.log(`released example:job; still locked: ${await job.locked()}`);
  try {
    await job.release();
  } catch (e) {
    if (!(e instanceof LockError)) throw e;
    console.log(`releasing again rejects with LockError: ${e.message}`);
  }
  client.close();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
