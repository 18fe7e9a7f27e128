import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KapselError } from '../common/errors.js';
import { checkInsecureRegistry, isInsecureRegistry } from './registry-insecure.js';

test('loopback registries may use plain HTTP without a flag, as with dockerd', () => {
  for (const r of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.9.8.7', '[::1]:5000']) assert.equal(isInsecureRegistry(r, []), true, r);
  for (const r of ['docker.io', 'registry.example:5000', '10.0.0.1:5000', '127.0.0.1.example.com', 'localhost.example']) assert.equal(isInsecureRegistry(r, []), false, r);
});

test('--insecure-registry HOST allows every port; HOST:PORT only that port', () => {
  assert.equal(isInsecureRegistry('reg.example:5000', ['reg.example']), true);
  assert.equal(isInsecureRegistry('reg.example', ['reg.example']), true);
  assert.equal(isInsecureRegistry('reg.example:5000', ['reg.example:5000']), true);
  assert.equal(isInsecureRegistry('reg.example:5001', ['reg.example:5000']), false);
  assert.equal(isInsecureRegistry('other.example:5000', ['reg.example:5000']), false);
  assert.equal(isInsecureRegistry('REG.example:5000', ['reg.example']), true);
});

test('a malformed --insecure-registry value is refused, naming it', () => {
  for (const bad of ['http://reg.example', 'reg.example/v2', 'reg.example:port', '', 'a b']) {
    assert.throws(() => checkInsecureRegistry(bad), (err: unknown) => err instanceof KapselError && err.message.includes(`\`${bad}\``), bad);
  }
  assert.equal(checkInsecureRegistry('Reg.Example:5000'), 'reg.example:5000');
});
