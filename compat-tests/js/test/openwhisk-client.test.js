// The openwhisk npm client, unchanged, against `owl standalone`: create, get, list, update and delete
// actions, packages, bindings, triggers and rules, and list activations.
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

const code = 'function main(params) { return { greeting: "hello " + params.name } }';

test('namespaces.list answers the guest namespace', async () => {
  assert.deepEqual(await ow.namespaces.list(), ['guest']);
});

test('actions can be created, read, listed, updated and deleted', async () => {
  const created = await ow.actions.create({
    name: 'hello',
    action: code,
    kind: 'nodejs:default',
    params: { name: 'World' },
    annotations: { description: 'greets' },
    limits: { timeout: 5000, memory: 128 },
  });
  assert.equal(created.namespace, 'guest');
  assert.equal(created.exec.kind, 'nodejs:20');
  assert.equal(created.version, '0.0.1');
  assert.deepEqual(created.parameters, [{ key: 'name', value: 'World' }]);
  assert.deepEqual(created.limits, { timeout: 5000, memory: 128, logs: 10, concurrency: 1 });
  assert.deepEqual(created.annotations, [
    { key: 'description', value: 'greets' },
    { key: 'provide-api-key', value: false },
    { key: 'exec', value: 'nodejs:20' },
  ]);

  const got = await ow.actions.get({ name: 'hello' });
  assert.equal(got.exec.code, code);

  const list = await ow.actions.list();
  assert.deepEqual(list.map((a) => a.name), ['hello']);

  const updated = await ow.actions.update({ name: 'hello', action: code, params: { name: 'Owl' } });
  assert.equal(updated.version, '0.0.2');
  assert.deepEqual(updated.parameters, [{ key: 'name', value: 'Owl' }]);
  assert.ok(updated.annotations.some((a) => a.key === 'description'), 'annotations are merged on update');

  const deleted = await ow.actions.delete({ name: 'hello' });
  assert.equal(deleted.name, 'hello');
  await assert.rejects(ow.actions.get({ name: 'hello' }), (e) => e.statusCode === 404);
});

test('creating an action that exists is refused with the server message', async () => {
  await ow.actions.create({ name: 'twice', action: code });
  await assert.rejects(ow.actions.create({ name: 'twice', action: code }), (e) => {
    assert.equal(e.statusCode, 409);
    assert.match(e.message, /resource already exists/);
    return true;
  });
});

test('a zip sent as a Buffer is stored base64-encoded and marked binary', async () => {
  const zip = Buffer.from('PK\u0003\u0004 not really a zip but bytes all the same');
  const created = await ow.actions.create({ name: 'zipped', action: zip, kind: 'python:3.11' });
  assert.equal(created.exec.binary, true);
  assert.equal(created.exec.code, zip.toString('base64'));
});

test('sequences name their components with the namespace resolved', async () => {
  await ow.actions.create({ name: 'step', action: code });
  const seq = await ow.actions.create({ name: 'pipeline', sequence: ['/_/step', '/guest/step'] });
  assert.deepEqual(seq.exec.components, ['/guest/step', '/guest/step']);
  // A bare name is not a fully qualified name, as in OpenWhisk.
  await assert.rejects(ow.actions.create({ name: 'bare', sequence: ['step'] }), (e) => {
    assert.equal(e.statusCode, 400);
    assert.match(e.message, /must contain at least the namespace and the name of the entity/);
    return true;
  });
});

test('packages and bindings can be created, read, listed, updated and deleted', async () => {
  const pkg = await ow.packages.create({ name: 'tools', package: { publish: true, parameters: [{ key: 'a', value: 1 }] } });
  assert.deepEqual(pkg.binding, {});
  assert.equal(pkg.publish, true);
  await ow.actions.create({ name: 'tools/hello', action: code });

  const binding = await ow.packages.create({
    name: 'mytools',
    package: { binding: { namespace: 'guest', name: 'tools' }, parameters: [{ key: 'b', value: 2 }] },
  });
  assert.deepEqual(binding.binding, { namespace: 'guest', name: 'tools' });

  const got = await ow.packages.get({ name: 'mytools' });
  assert.deepEqual(got.parameters, [{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
  assert.deepEqual(got.actions.map((a) => a.name), ['hello']);

  const list = await ow.packages.list();
  assert.deepEqual(list.map((p) => [p.name, p.binding]).sort(), [
    ['mytools', { namespace: 'guest', name: 'tools' }],
    ['tools', false],
  ]);

  const updated = await ow.packages.update({ name: 'tools', package: { publish: false } });
  assert.equal(updated.version, '0.0.2');
  assert.equal(updated.publish, false);

  await ow.packages.delete({ name: 'mytools' });
  await assert.rejects(ow.packages.delete({ name: 'tools' }), (e) => e.statusCode === 409);
  await ow.actions.delete({ name: 'tools/hello' });
  await ow.packages.delete({ name: 'tools' });
  assert.deepEqual((await ow.packages.list()).map((p) => p.name), []);
});

test('triggers and rules can be created, read, listed, enabled, disabled and deleted', async () => {
  await ow.actions.create({ name: 'target', action: code });
  const trigger = await ow.triggers.create({ name: 'tick', trigger: { parameters: [{ key: 'k', value: 'v' }] } });
  assert.deepEqual(trigger.limits, {});
  const rule = await ow.rules.create({ name: 'on-tick', action: '/_/target', trigger: '/_/tick' });
  assert.equal(rule.status, 'active');
  assert.deepEqual(rule.trigger, { path: 'guest', name: 'tick' });

  await ow.rules.disable({ name: 'on-tick' });
  assert.equal((await ow.rules.get({ name: 'on-tick' })).status, 'inactive');
  await ow.rules.enable({ name: 'on-tick' });
  assert.equal((await ow.rules.get({ name: 'on-tick' })).status, 'active');

  assert.deepEqual((await ow.rules.list()).map((r) => r.name), ['on-tick']);
  assert.deepEqual((await ow.triggers.list()).map((t) => t.name), ['tick']);
  const withRules = await ow.triggers.get({ name: 'tick' });
  assert.equal(withRules.rules['guest/on-tick'].status, 'active');

  const updated = await ow.triggers.update({ name: 'tick', trigger: { parameters: [{ key: 'k', value: 'w' }] } });
  assert.equal(updated.version, '0.0.2');
  assert.ok(updated.rules['guest/on-tick'], 'rules survive a trigger update');

  await ow.rules.disable({ name: 'on-tick' });
  const fired = await ow.triggers.invoke({ name: 'tick', params: { x: 1 } });
  assert.ok(fired === undefined || fired === '' || Object.keys(fired).length === 0, 'no active rule: nothing fired');

  assert.equal((await ow.rules.delete({ name: 'on-tick' })).status, 'inactive');
  await ow.triggers.delete({ name: 'tick' });
  await assert.rejects(ow.triggers.get({ name: 'tick' }), (e) => e.statusCode === 404);
});

test('activations can be listed and counted, and a missing one is a 404', async () => {
  assert.deepEqual(await ow.activations.list({ limit: 5 }), []);
  assert.deepEqual(await ow.activations.list({ count: true }), { activations: 0 });
  await assert.rejects(ow.activations.get({ name: '0123456789abcdef0123456789abcdef' }), (e) => e.statusCode === 404);
});

test('another namespace cannot see private entities', async () => {
  await assert.rejects(
    ow.triggers.list({ namespace: 'whisk.system' }),
    (e) => e.statusCode === 403 && /not authorized to access 'whisk.system'/.test(e.message),
  );
});
