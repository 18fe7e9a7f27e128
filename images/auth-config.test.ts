import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { authKey, dockerConfigFile, findCredentials, kapselAuthFile, normalizeRegistryHost, removeCredentials, saveCredentials } from './auth-config.js';

const tmp = mkdtempSync(join(tmpdir(), 'kapsel-auth-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function env(): Record<string, string> {
  const home = join(tmp, `home${n++}`);
  mkdirSync(home);
  return { HOME: home };
}

test('file locations: KAPSEL_AUTH_FILE, XDG_CONFIG_HOME, ~/.config; DOCKER_CONFIG, ~/.docker', () => {
  assert.equal(kapselAuthFile({ HOME: '/h' }), '/h/.config/kapsel/auth.json');
  assert.equal(kapselAuthFile({ HOME: '/h', XDG_CONFIG_HOME: '/x' }), '/x/kapsel/auth.json');
  assert.equal(kapselAuthFile({ HOME: '/h', KAPSEL_AUTH_FILE: '/a.json' }), '/a.json');
  assert.equal(dockerConfigFile({ HOME: '/h' }), '/h/.docker/config.json');
  assert.equal(dockerConfigFile({ HOME: '/h', DOCKER_CONFIG: '/d' }), '/d/config.json');
});

test('registry keys are normalised the way docker writes them', () => {
  assert.equal(normalizeRegistryHost('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(normalizeRegistryHost('registry-1.docker.io'), 'docker.io');
  assert.equal(normalizeRegistryHost('http://Reg.Example:5000/v2/'), 'reg.example:5000');
  assert.equal(authKey('docker.io'), 'https://index.docker.io/v1/');
  assert.equal(authKey('127.0.0.1:5000'), '127.0.0.1:5000');
});

test('save, find, replace and remove; the file is 0600 and keeps other entries and keys', async () => {
  const e = env();
  const path = kapselAuthFile(e);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify({ auths: { 'other.example': { auth: Buffer.from('o:p').toString('base64') } }, credsStore: 'x' }));
  await saveCredentials('reg.example:5000', { username: 'alice', password: 'pw:with:colons' }, e);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(await findCredentials('reg.example:5000', e), { username: 'alice', password: 'pw:with:colons' });
  await saveCredentials('http://reg.example:5000', { username: 'bob', password: 'b' }, e);
  const file = JSON.parse(readFileSync(path, 'utf8')) as { auths: Record<string, unknown>; credsStore: string };
  assert.deepEqual(Object.keys(file.auths).sort(), ['other.example', 'reg.example:5000']);
  assert.equal(file.credsStore, 'x');
  assert.deepEqual(await findCredentials('reg.example:5000', e), { username: 'bob', password: 'b' });
  assert.equal(await removeCredentials('reg.example:5000', e), true);
  assert.equal(await removeCredentials('reg.example:5000', e), false);
  assert.equal(await findCredentials('reg.example:5000', e), undefined);
  assert.deepEqual(await findCredentials('other.example', e), { username: 'o', password: 'p' });
});

test('docker\'s config.json is read when kapsel\'s file has no entry; Docker Hub under its v1 key', async () => {
  const e = env();
  mkdirSync(join(e['HOME'] ?? '', '.docker'));
  writeFileSync(dockerConfigFile(e), JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw').toString('base64') }, 'reg.example': { username: 'u', password: 'p' } } }));
  assert.deepEqual(await findCredentials('docker.io', e), { username: 'hub', password: 'pw' });
  assert.deepEqual(await findCredentials('reg.example', e), { username: 'u', password: 'p' });
  await saveCredentials('reg.example', { username: 'mine', password: 'k' }, e);
  assert.deepEqual(await findCredentials('reg.example', e), { username: 'mine', password: 'k' }, 'kapsel\'s own file first');
  assert.equal(await findCredentials('nowhere.example', e), undefined);
});

test('a malformed credentials file is an error naming it', async () => {
  const e = env();
  const path = kapselAuthFile(e);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '{not json');
  await assert.rejects(findCredentials('x.example', e), (err: unknown) => err instanceof KapselError && err.code === 'ERR_AUTH_CONFIG' && err.message.includes(path));
  writeFileSync(path, JSON.stringify({ auths: { 'x.example': { auth: Buffer.from('no-colon').toString('base64') } } }));
  await assert.rejects(findCredentials('x.example', e), /is not base64 of user:password/);
});
