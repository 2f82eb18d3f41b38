// Owl's Node.js launcher. The actions-runtime proxy starts it once per container: it loads the
// action, acknowledges on file descriptor 3, then answers each activation (one line on stdin: a tag,
// a tab and the JSON message) with one line on descriptor 3 (the same tag, a tab and the JSON
// result). Activations run concurrently when the proxy sends several; the proxy sends one at a time
// unless the container allows concurrency. The action's console output is the container's log.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const Module = require('module');

// A result carrying only this key is a failure to run (reported as a developer error), not a result.
// The words are those of OpenWhisk's Node.js runtime (core/nodejsActionBase: src/service.js,
// runner.js, platform/platform.js).
const DEVELOPER_ERROR = '__owl_developer_error';

function answer(value, tag) {
  const text = JSON.stringify(value);
  const bytes = Buffer.from(tag === undefined ? `${text}\n` : `${tag}\t${text}\n`, 'utf8');
  let written = 0;
  while (written < bytes.length) {
    written += fs.writeSync(3, bytes, written, bytes.length - written);
  }
}

// `main` for a function, or `file.function` for a function of another file of a zip.
function splitMain(main) {
  const m = main.match(/^([^.]+)$|^([^.]+)\.(.+)$/);
  return m ? [m[2], m[3] || m[1]] : [undefined, main];
}

function loadSource(file, dir, main) {
  if (!/^[A-Za-z_$][\w$]*$/.test(main)) {
    throw `Action entrypoint '${main}' is not a function.`;
  }
  const code = fs.readFileSync(file, 'utf8');
  const mod = new Module(file, null);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(dir);
  // The entry point may be a top-level function or an export, as OpenWhisk's runtime finds it.
  const wrapped = `${code}
;module.exports.__owl_entry = (function () {
  try { return ${main}; } catch (e) {
    if (e instanceof ReferenceError) return module.exports.${main} || exports.${main};
    throw e;
  }
})();`;
  mod._compile(wrapped, file);
  return mod.exports.__owl_entry;
}

function loadZip(dir, main) {
  const [index, fn] = splitMain(main);
  const has = (f) => fs.existsSync(path.join(dir, f));
  if (index === undefined && !has('package.json') && !has('index.js')) {
    throw 'Zipped actions must contain either package.json or index.js at the root.';
  }
  const exported = require(index !== undefined ? path.join(dir, index) : dir);
  return exported[fn];
}

function load() {
  const dir = process.env.OW_ACTION_DIR;
  const main = process.env.OW_ACTION_MAIN || 'main';
  const file = process.env.OW_ACTION_FILE;
  const handler = file ? loadSource(file, dir, main) : loadZip(dir, main);
  if (typeof handler !== 'function') {
    throw `Action entrypoint '${main}' is not a function.`;
  }
  return handler;
}

function serializeError(e) {
  if (!e) return {};
  if (e instanceof Error) {
    const out = { name: e.name, message: e.message, stack: e.stack };
    for (const k of Object.keys(e)) out[k] = e[k];
    return out;
  }
  return e;
}

async function activate(handler, line) {
  const message = JSON.parse(line);
  for (const [k, v] of Object.entries(message)) {
    if (k !== 'value' && typeof v === 'string') process.env[`__OW_${k.toUpperCase()}`] = v;
  }
  let result;
  try {
    result = handler(message.value);
  } catch (e) {
    console.error(e);
    return { [DEVELOPER_ERROR]: `An error has occurred: ${e}` };
  }
  try {
    result = await result;
  } catch (e) {
    return { error: serializeError(e) };
  }
  if (result === undefined) return {};
  // null is an object too: it goes out as `null`, which the invoker refuses as upstream's does.
  if (typeof result !== 'object') {
    console.error(`Result must be of type object but has type "${typeof result}":`, result);
    return { [DEVELOPER_ERROR]: 'The action did not return a dictionary.' };
  }
  return result;
}

// Takes the action a standby launcher waited for: where it is and its environment.
function configure(line) {
  const c = JSON.parse(line);
  process.env.OW_ACTION_DIR = c.dir;
  process.env.OW_ACTION_MAIN = c.main;
  if (c.file) process.env.OW_ACTION_FILE = c.file;
  for (const [k, v] of Object.entries(c.env || {})) {
    process.env[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  process.chdir(c.dir);
}

let handler = null;
function boot() {
  try {
    handler = load();
  } catch (e) {
    console.error('Error during initialization:', e);
    answer({ error: String((e && e.stack) || e) });
    process.exit(1);
  }
  answer({ ok: true });
}

// Resolves once everything written to `stream` so far has left the process: the proxy prints the
// end-of-activation sentinel after the answer, so the action's output must be out before it.
function drained(stream) {
  return new Promise((resolve) => stream.write('', resolve));
}

// Started with the container (OW_STANDBY), the first line names the action; otherwise it is known.
if (process.env.OW_STANDBY !== '1') boot();

readline.createInterface({ input: process.stdin, terminal: false }).on('line', async (line) => {
  if (handler === null) {
    configure(line);
    boot();
    return;
  }
  const tab = line.indexOf('\t');
  const tag = line.slice(0, tab);
  const result = await activate(handler, line.slice(tab + 1));
  await drained(process.stdout);
  await drained(process.stderr);
  try {
    answer(result, tag);
  } catch (e) {
    // Upstream's Express answers a result JSON.stringify refuses (circular, a BigInt inside) so.
    console.error('[wrapEndpoint]', 'invalid errored promise', String(e));
    answer({ [DEVELOPER_ERROR]: 'Internal error.' }, tag);
  }
});
