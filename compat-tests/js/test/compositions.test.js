// The openwhisk npm client, unchanged, with sequences and web actions against `owl standalone` and
// real containers: a sequence created from an exec object and invoked blocking, and a web action
// reached with Node's fetch at the URL `wsk action get NAME --url` builds.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useOwl } = require('../lib/owl');

let owl;
let ow;

useOwl((started, client) => {
  owl = started;
  ow = client;
});

const ACTIVATION_ID = /^[0-9a-f]{32}$/;

/** The URL `wsk action get NAME --url` prints for a web action (apache/openwhisk-client-go ActionURL). */
function webURL(action, pkg) {
  const namespace = action.namespace.split('/')[0];
  return `${owl.apihost}/api/v1/web/${encodeURIComponent(namespace)}/${pkg || 'default'}/${encodeURIComponent(action.name)}`;
}

function isWebAction(action) {
  return action.annotations.some((a) => a.key === 'web-export' && a.value === true);
}

/** Calls `probe` until it resolves (a record is stored after its activation answers). */
async function eventually(probe, within = 30000) {
  const deadline = Date.now() + within;
  for (;;) {
    try {
      return await probe();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

test('a sequence created from an exec object runs a Node.js and a Python step in order', async () => {
  await ow.actions.create({ name: 'js-double', action: 'function main(p) { return { n: p.n * 2 } }', kind: 'nodejs:20' });
  await ow.actions.create({
    name: 'js-increment',
    action: "def main(a):\n    return {'n': a['n'] + 1}\n",
    kind: 'python:3.11',
  });
  const seq = await ow.actions.create({
    name: 'js-pipeline',
    action: { exec: { kind: 'sequence', components: ['/_/js-double', '/_/js-increment'] } },
  });
  assert.deepEqual(seq.exec, { kind: 'sequence', components: ['/guest/js-double', '/guest/js-increment'] });

  // blocking + result: the client answers the last step's result.
  assert.deepEqual(await ow.actions.invoke({ name: 'js-pipeline', params: { n: 5 }, blocking: true, result: true }), { n: 11 });

  // blocking: the sequence's activation, whose logs are its steps' activation ids.
  const activation = await ow.actions.invoke({ name: 'js-pipeline', params: { n: 1 }, blocking: true });
  assert.equal(activation.name, 'js-pipeline');
  assert.deepEqual(activation.response.result, { n: 3 });
  assert.equal(activation.logs.length, 2);
  const steps = await Promise.all(activation.logs.map((id) => eventually(() => ow.activations.get({ name: id }))));
  assert.deepEqual(steps.map((s) => s.name), ['js-double', 'js-increment']);
  for (const s of steps) {
    assert.equal(s.cause, activation.activationId);
    assert.ok(s.annotations.some((a) => a.key === 'causedBy' && a.value === 'sequence'), JSON.stringify(s.annotations));
  }

  // non-blocking: an id, then the record.
  const { activationId } = await ow.actions.invoke({ name: 'js-pipeline', params: { n: 10 } });
  assert.match(activationId, ACTIVATION_ID);
  const record = await eventually(() => ow.activations.get({ name: activationId }));
  assert.deepEqual(record.response.result, { n: 21 });
  assert.ok(record.annotations.some((a) => a.key === 'kind' && a.value === 'sequence'));

  // A failing step fails the sequence: the client rejects with the activation.
  await ow.actions.create({
    name: 'js-fail',
    action: "def main(a):\n    return {'error': 'no'}\n",
    kind: 'python:3.11',
  });
  await ow.actions.create({ name: 'js-broken', sequence: ['/_/js-double', '/_/js-fail', '/_/js-increment'] });
  await assert.rejects(ow.actions.invoke({ name: 'js-broken', params: { n: 1 }, blocking: true, result: true }), (e) => {
    assert.equal(e.statusCode, 502);
    assert.deepEqual(e.error.response.result, { error: 'no' });
    assert.equal(e.error.logs.length, 2);
    return true;
  });
});

test('a web action answers at the URL wsk builds from the action, through fetch', async () => {
  const page = "function main(p) { return { headers: { 'content-type': 'text/html' }, body: '<p>hello ' + (p.name || 'you') + ' by ' + p.__ow_method + '</p>' } }";
  // What `wsk action create js-page page.js --web true` sends.
  await ow.actions.create({
    name: 'js-page',
    action: page,
    kind: 'nodejs:20',
    annotations: { 'web-export': true, 'raw-http': false, final: true },
  });
  await ow.packages.create({ name: 'js-site' });
  await ow.actions.create({
    name: 'js-site/page',
    action: page,
    kind: 'nodejs:20',
    annotations: { 'web-export': true, 'raw-http': false, final: true },
  });

  for (const [name, pkg] of [['js-page', undefined], ['js-site/page', 'js-site']]) {
    const action = await ow.actions.get({ name });
    assert.ok(isWebAction(action), JSON.stringify(action.annotations));
    const url = webURL(action, pkg);

    const r = await fetch(`${url}?name=owl`);
    assert.equal(r.status, 200, url);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=UTF-8');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.match(r.headers.get('x-openwhisk-activation-id'), ACTIVATION_ID);
    assert.equal(await r.text(), '<p>hello owl by get</p>');

    // .json answers the whole result; a JSON body is merged into the parameters.
    const j = await fetch(`${url}.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'fetch' }),
    });
    assert.equal(j.status, 200);
    assert.equal(j.headers.get('content-type'), 'application/json');
    assert.deepEqual(await j.json(), { headers: { 'content-type': 'text/html' }, body: '<p>hello fetch by post</p>' });

    // A preflight is answered without the action.
    const o = await fetch(url, { method: 'OPTIONS', headers: { 'access-control-request-headers': 'x-custom' } });
    assert.equal(o.status, 200);
    assert.equal(o.headers.get('access-control-allow-headers'), 'x-custom');
    assert.equal(o.headers.get('access-control-allow-methods'), 'OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH');
    assert.equal(await o.text(), '');
  }

  // A sequence is a web action when it is annotated as one.
  await ow.actions.create({
    name: 'js-web-seq',
    action: { exec: { kind: 'sequence', components: ['/_/js-page'] } },
    annotations: { 'web-export': true },
  });
  const seq = await ow.actions.get({ name: 'js-web-seq' });
  const s = await fetch(`${webURL(seq)}?name=seq`);
  assert.equal(s.status, 200);
  assert.equal(await s.text(), '<p>hello seq by get</p>');

  // Not exported: not found, in OpenWhisk's words.
  await ow.actions.update({ name: 'js-page', annotations: { 'web-export': false } });
  const gone = await fetch(webURL(await ow.actions.get({ name: 'js-page' })));
  assert.equal(gone.status, 404);
  assert.equal((await gone.json()).error, 'The requested resource does not exist.');
});
