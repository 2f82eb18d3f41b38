// The openwhisk npm client, unchanged, against a topology that `scripts/distributed up` started
// (its DIR/env in the environment): two controllers behind no balancer at all, each reached
// directly, sharing RabbitMQ and CouchDB with two invokers.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const openwhisk = require('openwhisk');
const { GUEST_KEY } = require('../lib/owl');

const controllers = (process.env.OWL_CONTROLLERS || '').split(',').filter(Boolean);
if (controllers.length < 2) {
  throw new Error('OWL_CONTROLLERS must name two controllers: source the env file of `scripts/distributed up DIR`');
}
const [a, b] = controllers.map((apihost) => openwhisk({ apihost, api_key: GUEST_KEY }));
const name = `topology-${process.pid}`;

test('both controllers hear both invokers', async () => {
  for (const c of controllers) {
    const health = await fetch(`${c}/invokers`).then((r) => r.json());
    assert.deepEqual(Object.values(health), ['up', 'up'], JSON.stringify(health));
  }
});

test('an action created through one controller runs through the other', async () => {
  await a.actions.create({ name, action: 'function main(p) { return { hi: p.who } }', kind: 'nodejs:default' });
  try {
    const r = await b.actions.invoke({ name, blocking: true, result: true, params: { who: 'owl' } });
    assert.deepEqual(r, { hi: 'owl' });
  } finally {
    await b.actions.delete({ name });
  }
});

test('a trigger fired through one controller runs its rule\'s action, recorded for the other', async () => {
  const [trigger, rule] = [`${name}-t`, `${name}-r`];
  try {
    await a.actions.create({ name, action: 'function main(p) { return p }', kind: 'nodejs:default' });
    await a.triggers.create({ name: trigger });
    await a.rules.create({ name: rule, action: name, trigger });
    const fired = await b.triggers.invoke({ name: trigger, params: { n: 1 } });
    const deadline = Date.now() + 30000;
    for (;;) {
      const record = await a.activations.get({ name: fired.activationId }).catch(() => null);
      if (record && record.logs.length === 1) {
        const ran = JSON.parse(record.logs[0]);
        assert.equal(ran.success, true, record.logs[0]);
        const action = await b.activations.get({ name: ran.activationId }).catch(() => null);
        if (action) {
          assert.equal(action.response.result.n, 1);
          break;
        }
      }
      assert.ok(Date.now() < deadline, 'the rule ran within 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await a.rules.delete({ name: rule }).catch(() => {});
    await a.triggers.delete({ name: trigger }).catch(() => {});
    await a.actions.delete({ name }).catch(() => {});
  }
});
