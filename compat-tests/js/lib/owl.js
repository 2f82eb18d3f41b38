// Starts the real `owl standalone` on a free port with a fresh data directory, for one test file.
'use strict';

const { spawn } = require('node:child_process');
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

async function startOwl() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'owl-js-'));
  const child = spawn(binary(), ['standalone', '--port', '0', '--data-dir', dataDir], {
    env: { ...process.env, OWL_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const apihost = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('owl did not print its address in 20 s')), 20000);
    child.on('exit', (code) => reject(new Error(`owl exited early with ${code}`)));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = line.match(/^owl standalone listening on (\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return {
    apihost,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

module.exports = { startOwl, GUEST_KEY };
