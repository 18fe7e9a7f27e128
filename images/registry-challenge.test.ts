import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWwwAuthenticate } from './registry-challenge.js';

test('Docker Hub\'s Bearer challenge: realm, service and a scope with commas inside quotes', () => {
  const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"';
  assert.deepEqual(parseWwwAuthenticate(header).map((c) => ({ scheme: c.scheme, params: { ...c.params } })), [{
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull,push' },
  }]);
});

test('Basic, case-insensitive names, spaces around `=` and after commas', () => {
  const [c] = parseWwwAuthenticate('BASIC Realm = "kapsel test" ,  charset=UTF-8');
  assert.equal(c?.scheme, 'basic');
  assert.deepEqual({ ...c?.params }, { realm: 'kapsel test', charset: 'UTF-8' });
});

test('several challenges in one header, and an error parameter', () => {
  const all = parseWwwAuthenticate('Basic realm="r1", Bearer realm="http://127.0.0.1:1/token",service="s",error="insufficient_scope"');
  assert.deepEqual(all.map((c) => c.scheme), ['basic', 'bearer']);
  assert.equal(all[1]?.params['error'], 'insufficient_scope');
  assert.equal(all[1]?.params['realm'], 'http://127.0.0.1:1/token');
});

test('backslash escapes in quoted strings; unquoted token values', () => {
  const [c] = parseWwwAuthenticate('Bearer realm="a \\"quoted\\" realm\\\\",service=registry.example:5000');
  assert.equal(c?.params['realm'], 'a "quoted" realm\\');
  assert.equal(c?.params['service'], 'registry.example:5000');
});

test('empty and malformed headers give no parameters for unknown names, never a throw', () => {
  assert.deepEqual(parseWwwAuthenticate(''), []);
  assert.deepEqual(parseWwwAuthenticate('Bearer').map((c) => c.scheme), ['bearer']);
  const [c] = parseWwwAuthenticate('Bearer realm="unterminated');
  assert.equal(c?.params['realm'], 'unterminated');
  assert.equal(Object.hasOwn(c?.params ?? {}, 'constructor'), false);
});
