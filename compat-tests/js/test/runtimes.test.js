// The openwhisk npm client, unchanged, creating and invoking Java, Go, PHP and Ruby actions as it
// sends them for `wsk action create hello.jar|.go|.php|.rb`: the kind `<family>:default`, a jar as
// base64 code with its main class.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useOwl } = require('../lib/owl');

let ow;

useOwl((_, client) => {
  ow = client;
});

const JAR = path.join(__dirname, '../../../actions-runtime/tests/fixtures/java/actions.jar');

const sources = {
  go: 'package main\nfunc Main(p map[string]interface{}) map[string]interface{} {\n  return map[string]interface{}{"greeting": "Hello " + p["name"].(string) + " from Go"}\n}\n',
  php: "<?php\nfunction main(array $p) : array { return ['greeting' => 'Hello ' . $p['name'] . ' from PHP']; }\n",
  ruby: "def main(p)\n  { 'greeting' => \"Hello #{p['name']} from Ruby\" }\nend\n",
};

test('go, php and ruby source actions run with the kind wsk names for their file', async () => {
  for (const [family, code] of Object.entries(sources)) {
    const name = `js-hello-${family}`;
    const created = await ow.actions.create({ name, action: code, kind: `${family}:default` });
    assert.match(created.exec.kind, new RegExp(`^${family}:`));
    const result = await ow.actions.invoke({ name, blocking: true, result: true, params: { name: 'World' } });
    const language = { go: 'Go', php: 'PHP', ruby: 'Ruby' }[family];
    assert.deepEqual(result, { greeting: `Hello World from ${language}` });
  }
});

test('a jar action runs its main class, and an exception is the developer error java8action answers', async () => {
  const code = fs.readFileSync(JAR).toString('base64');
  await ow.actions.create({
    name: 'js-hello-java',
    action: { exec: { kind: 'java:default', code, main: 'example.Hello' } },
  });
  const result = await ow.actions.invoke({ name: 'js-hello-java', blocking: true, result: true, params: { name: 'World' } });
  assert.deepEqual(result, { greeting: 'Hello World!' });
  const action = await ow.actions.get({ name: 'js-hello-java' });
  assert.equal(action.exec.binary, true);
  assert.equal(action.exec.main, 'example.Hello');

  await ow.actions.create({
    name: 'js-java-throws',
    action: { exec: { kind: 'java:8', code, main: 'example.Problems' } },
  });
  await assert.rejects(ow.actions.invoke({ name: 'js-java-throws', blocking: true }), (e) => {
    assert.equal(e.statusCode, 502);
    assert.equal(e.error.response.status, 'action developer error');
    assert.deepEqual(e.error.response.result, {
      error: 'An error has occurred while invoking the action (see logs for details): java.lang.Exception: noooooooo',
    });
    return true;
  });
});
