// Starts the real Owl for one test file, with storage of its own, in the topology the run asks for:
// `owl standalone` on a free port (the default), or with OWL_TEST_TOPOLOGY=distributed two
// `owl controller`s and two `owl invoker`s on the RabbitMQ broker and CouchDB-compatible server named
// by OWL_TEST_AMQP_URL and OWL_TEST_COUCH_URL (scripts/test starts both), under a database prefix of
// their own. Requests go to the first controller.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const GUEST_KEY =
  '23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP';

function binary() {
  const bin = process.env.OWL_BIN || path.join(__dirname, '..', '..', '..', 'target', 'debug', 'owl');
  if (!fs.existsSync(bin)) {
    throw new Error(`the owl binary is missing at ${bin}: build it with \`cargo build --bin owl\` (scripts/test does)`);
  }
  return bin;
}

// Starts `args` and resolves with the first stdout line matching `pattern` (its first group).
function launch(args, env, pattern, seconds) {
  const child = spawn(binary(), args, {
    env: { ...process.env, OWL_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`owl ${args[0]} printed nothing in ${seconds} s`)), seconds * 1000);
    child.on('exit', (code) => reject(new Error(`owl ${args[0]} exited early with ${code}`)));
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      const m = l.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return { child, line };
}

async function terminate(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function startStandalone() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'owl-js-'));
  const { child, line } = launch(
    ['standalone', '--port', '0', '--data-dir', dataDir],
    {},
    /^owl standalone listening on (\S+)/,
    20,
  );
  const apihost = await line;
  return {
    apihost,
    async stop() {
      await terminate(child);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function startDistributed() {
  const amqp = process.env.OWL_TEST_AMQP_URL;
  const couch = process.env.OWL_TEST_COUCH_URL;
  if (!amqp || !couch) {
    throw new Error('OWL_TEST_TOPOLOGY=distributed needs OWL_TEST_AMQP_URL and OWL_TEST_COUCH_URL (scripts/test sets them)');
  }
  const tag = `js${process.pid}`;
  const env = { OWL_AMQP_URL: amqp, OWL_COUCH_URL: couch, OWL_DB_PREFIX: `${tag}_`, OWL_QUEUE_SCOPE: tag };
  const gateway = execFileSync('docker', ['network', 'inspect', 'bridge', '-f', '{{(index .IPAM.Config 0).Gateway}}'])
    .toString()
    .trim();
  const children = [];
  const controllers = [];
  for (const n of [0, 1]) {
    const { child, line } = launch(
      ['controller', '--controller-id', `${tag}c${n}`, '--bind', `127.0.0.1,${gateway}`, '--port', '0', '--workers', '2'],
      env,
      /^owl controller \S+ listening on (\S+)/,
      30,
    );
    children.push(child);
    controllers.push(await line);
  }
  for (const n of [0, 1]) {
    const port = controllers[n].split(':').pop();
    const { child, line } = launch(
      ['invoker', '--invoker-id', `${tag}i${n}`, '--api-host', `http://${gateway}:${port}`, '--no-prewarm', '--drain-grace', '5'],
      env,
      /^owl invoker (\S+) running/,
      120,
    );
    children.push(child);
    await line;
  }
  const deadline = Date.now() + 30000;
  for (const c of controllers) {
    for (;;) {
      const healthy = await fetch(`${c}/invokers/healthy/count`).then((r) => r.json()).catch(() => 0);
      if (healthy === 2) break;
      if (Date.now() > deadline) throw new Error(`${c} does not hear both invokers`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    apihost: controllers[0],
    controllers,
    async stop() {
      for (const c of children) await terminate(c);
      for (const db of ['whisks', 'subjects', 'activations', 'services']) {
        await fetch(`${couch}/${tag}_${db}`, { method: 'DELETE' }).catch(() => {});
      }
    },
  };
}

async function startOwl() {
  return process.env.OWL_TEST_TOPOLOGY === 'distributed' ? startDistributed() : startStandalone();
}

/**
 * Starts Owl before a test file's tests and stops it after them; `ready(owl, ow)` receives the
 * running Owl and an openwhisk client for the guest.
 */
function useOwl(ready) {
  const { before, after } = require('node:test');
  const openwhisk = require('openwhisk');
  let owl;
  before(async () => {
    owl = await startOwl();
    ready(owl, openwhisk({ apihost: owl.apihost, api_key: GUEST_KEY }));
  });
  after(async () => {
    await owl.stop();
  });
}

module.exports = { startOwl, useOwl, GUEST_KEY };
