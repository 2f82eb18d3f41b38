// The openwhisk npm client, unchanged, driving events against `owl standalone` with real containers:
// trigger fires into rules (active, disabled, to packaged and plain actions), and the built-in
// `/whisk.system/alarms` feeds through `ow.feeds` (create, read, update, delete, and their errors in
// openwhisk-package-alarms' words).
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

// An action that answers its parameters, so its record shows what it was given.
const echo = 'function main(params) { return params }';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `probe` every `every` ms until it answers something truthy; fails after `within` ms. */
async function eventually(what, within, probe, every = 250) {
  const deadline = Date.now() + within;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      assert.fail(`${what}: not within ${within / 1000} s (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await sleep(every);
  }
}

/** The whole records of `name`'s activations, newest first. */
function records(name) {
  return ow.activations.list({ name, docs: true, limit: 200 });
}

/** The parameters an echo action was given, without the request headers a fire adds. */
function withoutHeaders(result) {
  const { __ow_headers, ...rest } = result;
  return rest;
}

const ACTIVATION_ID = /^[0-9a-f]{32}$/;

test('firing a trigger without rules answers 204, which the client resolves as an empty body, and records nothing', async () => {
  await ow.triggers.create({ name: 'lonely', trigger: { parameters: [{ key: 'k', value: 'v' }] } });
  const before = await ow.activations.list({ count: true });

  const fired = await ow.triggers.invoke({ name: 'lonely', params: { x: 1 } });
  // The client (needle underneath) resolves a response without a body as an empty Buffer.
  assert.ok(Buffer.isBuffer(fired) && fired.length === 0, `resolved with ${JSON.stringify(fired)}`);

  await sleep(1000);
  assert.deepEqual(await records('lonely'), []);
  assert.deepEqual(await ow.activations.list({ count: true }), before);
  await ow.triggers.delete({ name: 'lonely' });
});

test('a fire runs each active rule once with the trigger parameters and the payload, and records why a disabled rule did not run', async () => {
  await ow.packages.create({ name: 'fpkg' });
  await ow.actions.create({ name: 'fpkg/a', action: echo });
  await ow.actions.create({ name: 'fplain', action: echo });
  await ow.actions.create({ name: 'fdisabled', action: echo });
  await ow.triggers.create({
    name: 'fired',
    trigger: { parameters: [{ key: 'from', value: 'trigger' }, { key: 'both', value: 'trigger' }] },
  });
  await ow.rules.create({ name: 'fr-pkg', trigger: 'fired', action: 'fpkg/a' });
  await ow.rules.create({ name: 'fr-plain', trigger: '/_/fired', action: '/_/fplain' });
  await ow.rules.create({ name: 'fr-off', trigger: 'fired', action: 'fdisabled' });
  await ow.rules.disable({ name: 'fr-off' });

  const payload = { both: 'fire', n: 2, nested: { deep: [1, 'two'] } };
  const fired = await ow.triggers.invoke({ name: 'fired', params: payload });
  assert.deepEqual(Object.keys(fired), ['activationId']);
  assert.match(fired.activationId, ACTIVATION_ID);

  const record = await eventually('the trigger activation record', 30000, () =>
    ow.activations.get({ name: fired.activationId }),
  );
  assert.equal(record.activationId, fired.activationId);
  assert.equal(record.name, 'fired');
  assert.equal(record.namespace, 'guest');
  assert.equal(record.subject, 'guest');
  assert.deepEqual(record.response.result, payload, 'the trigger record holds the fire payload');
  assert.equal(record.response.success, true);
  assert.equal(record.response.status, 'success');

  assert.equal(record.logs.length, 3, `one log line per rule: ${JSON.stringify(record.logs)}`);
  const logs = record.logs.map((l) => JSON.parse(l)).sort((a, b) => a.rule.localeCompare(b.rule));
  const ids = {};
  for (const l of logs) {
    if (l.activationId !== undefined) {
      assert.match(l.activationId, ACTIVATION_ID);
      ids[l.rule] = l.activationId;
      l.activationId = '<id>';
    }
  }
  assert.deepEqual(logs, [
    {
      statusCode: 1,
      success: false,
      error: "Rule 'guest/fr-off' is inactive, action 'guest/fdisabled' was not activated.",
      rule: 'guest/fr-off',
      action: 'guest/fdisabled',
    },
    { statusCode: 0, success: true, activationId: '<id>', rule: 'guest/fr-pkg', action: 'guest/fpkg/a' },
    { statusCode: 0, success: true, activationId: '<id>', rule: 'guest/fr-plain', action: 'guest/fplain' },
  ]);
  assert.notEqual(ids['guest/fr-pkg'], ids['guest/fr-plain']);

  const expected = { from: 'trigger', both: 'fire', n: 2, nested: { deep: [1, 'two'] } };
  for (const [rule, name] of [['guest/fr-pkg', 'a'], ['guest/fr-plain', 'fplain']]) {
    const run = await eventually(`the activation of ${rule}'s action`, 30000, () =>
      ow.activations.get({ name: ids[rule] }),
    );
    assert.equal(run.name, name);
    assert.equal(run.namespace, 'guest');
    assert.equal(run.response.status, 'success', JSON.stringify(run.response));
    assert.deepEqual(withoutHeaders(run.response.result), expected, `${rule}: trigger parameters, then the payload over them`);
    const headers = run.response.result.__ow_headers;
    assert.equal(typeof headers, 'object', `${rule}: __ow_headers is an object: ${JSON.stringify(headers)}`);
    assert.equal(headers.authorization, undefined, `${rule}: the caller's key is not passed on`);
  }
  const pkgRun = await ow.activations.get({ name: ids['guest/fr-pkg'] });
  const path = pkgRun.annotations.find((a) => a.key === 'path');
  assert.equal(path && path.value, 'guest/fpkg/a');

  // The disabled rule's action never ran; the active ones ran once each.
  await sleep(1000);
  assert.deepEqual(await records('fdisabled'), []);
  assert.equal((await records('fplain')).length, 1);
});

test('a rule whose action is gone is logged as an application error, and the other rules still run', async () => {
  await ow.actions.create({ name: 'stays', action: echo });
  await ow.actions.create({ name: 'goes', action: echo });
  await ow.triggers.create({ name: 'half' });
  await ow.rules.create({ name: 'to-stays', trigger: 'half', action: 'stays' });
  await ow.rules.create({ name: 'to-goes', trigger: 'half', action: 'goes' });
  await ow.actions.delete({ name: 'goes' });

  const fired = await ow.triggers.invoke({ name: 'half', params: { p: 1 } });
  const record = await eventually('the trigger activation record', 30000, () =>
    ow.activations.get({ name: fired.activationId }),
  );
  const logs = record.logs.map((l) => JSON.parse(l)).sort((a, b) => a.rule.localeCompare(b.rule));
  assert.deepEqual(logs[0], {
    statusCode: 1,
    success: false,
    error: 'The requested resource does not exist.',
    rule: 'guest/to-goes',
    action: 'guest/goes',
  });
  assert.equal(logs[1].rule, 'guest/to-stays');
  assert.equal(logs[1].success, true);
  const run = await eventually('the run of the remaining rule', 30000, () =>
    ow.activations.get({ name: logs[1].activationId }),
  );
  assert.deepEqual(withoutHeaders(run.response.result), { p: 1 });
});

test('a once alarm fires once, then deletes its trigger and rules when deleteAfterFire is rules', async () => {
  await ow.actions.create({ name: 'once-target', action: echo });
  await ow.triggers.create({
    name: 'once-trigger',
    trigger: { annotations: [{ key: 'feed', value: '/whisk.system/alarms/once' }] },
  });
  await ow.rules.create({ name: 'once-rule', trigger: 'once-trigger', action: 'once-target' });
  const date = new Date(Date.now() + 3000).toISOString();
  await ow.feeds.create({
    name: '/whisk.system/alarms/once',
    trigger: 'once-trigger',
    params: { date, deleteAfterFire: 'rules', trigger_payload: 'just once' },
  });
  const read = (await ow.feeds.get({ name: '/whisk.system/alarms/once', trigger: 'once-trigger' })).response.result;
  assert.deepEqual(read.config, {
    name: 'once-trigger',
    namespace: 'guest',
    payload: { payload: 'just once' },
    strict: false,
    date,
    deleteAfterFire: 'rules',
  });
  assert.equal(read.status.nextFire, Date.parse(date));

  const runs = await eventually('the one run', 20000, async () => {
    const r = await records('once-target');
    return r.length === 1 && r;
  });
  assert.deepEqual(withoutHeaders(runs[0].response.result), { payload: 'just once' });
  await eventually('the trigger and its rule deleted after the fire', 10000, async () => {
    const gone = (p) => p.then(() => false, (e) => e.statusCode === 404);
    return (await gone(ow.triggers.get({ name: 'once-trigger' }))) && (await gone(ow.rules.get({ name: 'once-rule' })));
  });
  await sleep(3000);
  assert.equal((await records('once-target')).length, 1, 'it fired once');
});

test('an alarms feed made, read, updated and deleted through ow.feeds fires its trigger on schedule, then stops', async () => {
  await ow.actions.create({ name: 'tock', action: echo });
  await ow.triggers.create({
    name: 'ticker',
    trigger: {
      parameters: [{ key: 'from', value: 'trigger' }],
      annotations: [{ key: 'feed', value: '/whisk.system/alarms/alarm' }],
    },
  });
  await ow.rules.create({ name: 'on-ticker', trigger: 'ticker', action: 'tock' });

  const cron = '*/2 * * * * *';
  const created = await ow.feeds.create({
    name: '/whisk.system/alarms/alarm',
    trigger: 'ticker',
    params: { cron, trigger_payload: { hello: 'owl' } },
  });
  // A blocking invoke without `result`: the client resolves with the feed action's whole record.
  assert.deepEqual(created.response.result, { status: 'success' });
  assert.equal(created.response.status, 'success');
  assert.equal(created.namespace, 'guest');
  assert.equal(created.name, 'alarm');

  const saidOwl = (r) => r.response.result && r.response.result.hello === 'owl';
  const firstFires = await eventually('2 scheduled runs of the action with the trigger payload', 20000, async () => {
    const runs = (await records('tock')).filter(saidOwl);
    return runs.length >= 2 && runs;
  });
  for (const r of firstFires) {
    assert.equal(r.response.status, 'success');
    assert.deepEqual(withoutHeaders(r.response.result), { from: 'trigger', hello: 'owl' });
  }
  // Each run came from a trigger record of its own, holding the payload.
  const tickerRecords = await records('ticker');
  assert.ok(tickerRecords.length >= 2, `trigger records: ${tickerRecords.length}`);
  for (const t of tickerRecords) {
    assert.deepEqual(t.response.result, { hello: 'owl' });
    assert.equal(t.logs.length, 1);
    const log = JSON.parse(t.logs[0]);
    assert.equal(log.rule, 'guest/on-ticker');
    assert.equal(log.action, 'guest/tock');
    assert.equal(log.success, true);
  }

  let asked = Date.now();
  let read = await ow.feeds.get({ name: '/whisk.system/alarms/alarm', trigger: 'ticker' });
  let { config, status } = read.response.result;
  if (status.nextFire <= asked) {
    // Read in the instant a fire was due but not yet booked: the next read must show the one after.
    await sleep(1000);
    asked = Date.now();
    read = await ow.feeds.get({ name: '/whisk.system/alarms/alarm', trigger: 'ticker' });
    ({ config, status } = read.response.result);
  }
  assert.equal(read.response.status, 'success', JSON.stringify(read.response));
  assert.deepEqual(config, {
    name: 'ticker',
    namespace: 'guest',
    payload: { hello: 'owl' },
    strict: false,
    cron,
  });
  assert.equal(status.active, true);
  assert.equal(typeof status.dateChanged, 'number');
  assert.equal(status.dateChangedISO, new Date(status.dateChanged).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  assert.equal(status.reason, undefined);
  assert.ok(status.fireCount >= 2, `fireCount ${status.fireCount}`);
  assert.equal(typeof status.lastFired, 'number');
  assert.ok(status.nextFire > asked, `nextFire ${status.nextFire} is in the future (asked at ${asked})`);
  assert.ok(status.nextFire <= asked + 2000, `nextFire ${status.nextFire} is the next even second after ${asked}`);
  assert.equal(status.nextFire % 2000, 0, `nextFire ${status.nextFire} falls on an even second`);
  assert.equal(status.lastError, null);

  const updated = await ow.feeds.update({
    name: '/whisk.system/alarms/alarm',
    trigger: 'ticker',
    params: { trigger_payload: { hello: 'again' } },
  });
  assert.deepEqual(updated.response.result, { status: 'success' });
  const saidAgain = (r) => r.response.result && r.response.result.hello === 'again';
  await eventually('2 scheduled runs with the updated payload', 20000, async () => {
    const runs = (await records('tock')).filter(saidAgain);
    return runs.length >= 2;
  });
  for (const r of (await records('tock')).filter(saidAgain)) {
    assert.deepEqual(withoutHeaders(r.response.result), { from: 'trigger', hello: 'again' });
  }
  const reread = (await ow.feeds.get({ name: '/whisk.system/alarms/alarm', trigger: 'ticker' })).response.result;
  assert.deepEqual(reread.config.payload, { hello: 'again' });
  assert.equal(reread.status.active, true);

  const deleted = await ow.feeds.delete({ name: '/whisk.system/alarms/alarm', trigger: 'ticker' });
  assert.deepEqual(deleted.response.result, { status: 'success' });
  await assert.rejects(ow.feeds.get({ name: '/whisk.system/alarms/alarm', trigger: 'ticker' }), (e) => {
    assert.equal(e.statusCode, 502, e.message);
    assert.match(e.message, /could not find trigger \/guest\/ticker in the database/);
    return true;
  });
  await ow.triggers.delete({ name: 'ticker' });

  // Let a run started just before the delete land, then nothing more may come.
  await sleep(2000);
  const runsAfter = (await records('tock')).length;
  const firesAfter = (await records('ticker')).length;
  await sleep(5000);
  assert.equal((await records('tock')).length, runsAfter, 'no run after the feed and trigger are deleted');
  assert.equal((await records('ticker')).length, firesAfter, 'no fire after the feed and trigger are deleted');
});

test('feed errors reject through the client with the alarms package sentence', async () => {
  await ow.triggers.create({
    name: 'feed-errors',
    trigger: { annotations: [{ key: 'feed', value: '/whisk.system/alarms/alarm' }] },
  });
  const hour = 3600 * 1000;
  const start = new Date(Date.now() + 2 * hour).toISOString();
  const stop = new Date(Date.now() + hour).toISOString();
  const past = '2020-01-01T00:00:00.000Z';
  const cases = [
    ['a bad cron', 'alarm', 'feed-errors', { cron: 'x' }, "cron pattern 'x' is not valid"],
    ['an unknown time zone', 'alarm', 'feed-errors', { cron: '* * * * *', timezone: 'Mars/Olympus' }, 'Invalid timezone.'],
    ['a once date in the past', 'once', 'feed-errors', { date: past }, `date parameter '${past}' must be in the future`],
    [
      'a stopDate before the startDate',
      'alarm',
      'feed-errors',
      { cron: '* * * * *', startDate: start, stopDate: stop },
      `stopDate parameter '${stop}' must be greater than the startDate parameter '${start}'`,
    ],
    ['half a minute', 'interval', 'feed-errors', { minutes: 0.5 }, 'the minutes parameter must be an integer'],
    ['a trigger that does not exist', 'alarm', 'no-such-trigger', { cron: '* * * * *' }, 'Trigger authentication request failed.'],
  ];
  for (const [what, feed, trigger, params, sentence] of cases) {
    await assert.rejects(ow.feeds.create({ name: `/whisk.system/alarms/${feed}`, trigger, params }), (e) => {
      assert.equal(e.statusCode, 502, `${what}: ${e.message}`);
      assert.ok(e.message.includes(`--> "${sentence}"`), `${what}: the client's message names the sentence: ${e.message}`);
      assert.equal(e.error.response.status, 'application error', what);
      assert.equal(e.error.response.success, false, what);
      assert.deepEqual(e.error.response.result, { error: { error: sentence } }, what);
      return true;
    }, what);
  }
  // None of them left a schedule behind.
  await assert.rejects(ow.feeds.get({ name: '/whisk.system/alarms/alarm', trigger: 'feed-errors' }), (e) => {
    assert.equal(e.statusCode, 502, e.message);
    assert.match(e.message, /could not find trigger \/guest\/feed-errors in the database/);
    return true;
  });
  await ow.triggers.delete({ name: 'feed-errors' });
});
