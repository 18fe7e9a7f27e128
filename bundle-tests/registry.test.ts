// `kapsel pull`, `login`, `logout` against a real registry (Debian's docker-registry) on
// 127.0.0.1, filled by skopeo from images built here: anonymous, htpasswd basic auth, token
// auth through a token server in this process, a multi-platform index, a tampered blob.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, mountsUnder } from './helpers.js';
import {
  busyboxLayer, exec, fileLayer, pushLayout, startRegistry, startTokenServer, writeLayout,
  type BuiltLayout, type ExecResult, type TestRegistry, type TokenServer,
} from './registry-fixture.js';

const KAPSEL = join(REPO, 'bin', 'kapsel');
const work = mkdtempSync(join(tmpdir(), 'kapsel-registry-test-'));
const state = join(work, 'state');
const dockerConfig = join(work, 'docker-config'); // empty: the host's ~/.docker/config.json is never read
mkdirSync(dockerConfig);
const registries: TestRegistry[] = [];
let tokenServer: TokenServer | undefined;
let anon: TestRegistry;
let busybox: Buffer;
let stores = 0;

function newStore(): string {
  const dir = join(work, `store-${stores++}`);
  mkdirSync(dir);
  return dir;
}

function kapsel(args: string[], opts: { store: string; authFile?: string; input?: string; env?: NodeJS.ProcessEnv }): Promise<ExecResult> {
  return exec(KAPSEL, args, {
    env: { ...process.env, KAPSEL_STORE: opts.store, KAPSEL_STATE: state, KAPSEL_AUTH_FILE: opts.authFile ?? join(work, 'no-auth.json'), DOCKER_CONFIG: dockerConfig, ...opts.env },
    ...(opts.input !== undefined && { input: opts.input }),
  });
}

async function layout(name: string, images: Parameters<typeof writeLayout>[2]): Promise<BuiltLayout> {
  return writeLayout(join(work, 'layouts', name), 'v1', images);
}

function storeIndex(store: string): { manifests: { digest: string; annotations?: Record<string, string> }[] } {
  const path = join(store, 'index.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : { manifests: [] };
}

function named(store: string, name: string): string | undefined {
  return storeIndex(store).manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name)?.digest;
}

const short = (digest: string): string => digest.slice(7, 19);
const amd64 = { os: 'linux', architecture: 'amd64' };

before(async () => {
  busybox = await busyboxLayer();
  anon = await startRegistry();
  registries.push(anon);
});

after(async () => {
  for (const r of registries) await r.stop();
  await tokenServer?.close();
  const leftovers = mountsUnder(work);
  rmSync(work, { recursive: true, force: true });
  assert.deepEqual(leftovers, [], 'no mounts left under the test stores');
  for (const r of registries) assert.equal(existsSync(r.dir), false);
});

test('anonymous pull prints the digest, and kapsel run runs the pulled image; a second pull downloads nothing', async () => {
  const image = await layout('app', [{ platform: amd64, layers: [busybox, await fileLayer('etc/marker', 'single\n')] }]);
  await pushLayout(image, `${anon.host}/kapsel-test/app:v1`);
  const store = newStore();
  const pull = await kapsel(['pull', `${anon.host}/kapsel-test/app:v1`], { store });
  assert.equal(pull.status, 0, pull.stderr);
  assert.equal(pull.stdout, `Digest: ${image.digest}\n${anon.host}/kapsel-test/app:v1\n`);
  assert.match(pull.stderr, /downloaded 3 blobs/);
  assert.equal(named(store, `${anon.host}/kapsel-test/app:v1`), image.digest);

  const run = await kapsel(['run', '--rm', '--name', `registry-run-${process.pid}`, `${anon.host}/kapsel-test/app:v1`, 'cat', '/etc/marker'], { store });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'single\n');

  const again = await kapsel(['pull', `${anon.host}/kapsel-test/app:v1`], { store });
  assert.equal(again.status, 0, again.stderr);
  for (const layer of image.layerDigests[0] ?? []) assert.match(again.stderr, new RegExp(`${short(layer)}: already exists`));
  assert.match(again.stderr, /downloaded 0 blobs \(0 B\), 3 already present/);

  // by digest: the name carries the digest, as `kapsel run` normalises it
  const byDigest = await kapsel(['pull', `${anon.host}/kapsel-test/app@${image.digest}`], { store });
  assert.equal(byDigest.status, 0, byDigest.stderr);
  assert.equal(named(store, `${anon.host}/kapsel-test/app@${image.digest}`), image.digest);
});

test('a multi-platform index: linux/amd64 by default, --platform selects another, shared layers are skipped', async () => {
  const image = await layout('multi', [
    { platform: amd64, layers: [busybox, await fileLayer('etc/arch', 'amd64\n')] },
    { platform: { os: 'linux', architecture: 'arm64' }, layers: [busybox, await fileLayer('etc/arch', 'arm64\n')] },
  ]);
  await pushLayout(image, `${anon.host}/kapsel-test/multi:v1`, { all: true });
  const [amdManifest, armManifest] = image.manifestDigests;
  const name = `${anon.host}/kapsel-test/multi:v1`;
  const store = newStore();

  const pull = await kapsel(['pull', name], { store });
  assert.equal(pull.status, 0, pull.stderr);
  assert.equal(pull.stdout, `Digest: ${image.digest}\nManifest: ${amdManifest}\n${name}\n`);
  assert.equal(named(store, name), amdManifest);
  const run = await kapsel(['run', '--rm', '--name', `registry-multi-${process.pid}`, name, 'cat', '/etc/arch'], { store });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'amd64\n');

  const arm = await kapsel(['pull', '--platform', 'linux/arm64', name], { store });
  assert.equal(arm.status, 0, arm.stderr);
  assert.equal(arm.stdout, `Digest: ${image.digest}\nManifest: ${armManifest}\n${name}\n`);
  assert.equal(named(store, name), armManifest);
  assert.match(arm.stderr, new RegExp(`${short(image.layerDigests[1]?.[0] ?? '')}: already exists`), 'the busybox layer is shared');
  assert.match(arm.stderr, new RegExp(`${short(image.layerDigests[1]?.[1] ?? '')}: done`));
  assert.ok(existsSync(join(store, 'blobs', 'sha256', (image.layerDigests[1]?.[1] ?? '').slice(7))));

  const none = await kapsel(['pull', '--platform', 'linux/s390x', name], { store: newStore() });
  assert.equal(none.status, 1, none.stderr); // docker's status for a failed pull
  assert.match(none.stderr, /no manifest for platform linux\/s390x \(available: linux\/amd64, linux\/arm64\)/);
});

test('a blob tampered with in the registry is refused with its digest named, and leaves no image', async () => {
  const marker = await fileLayer('etc/marker', 'soon corrupt\n');
  const image = await layout('corrupt', [{ platform: amd64, layers: [busybox, marker] }]);
  await pushLayout(image, `${anon.host}/kapsel-test/corrupt:v1`);
  const layerDigest = image.layerDigests[0]?.[1] ?? '';
  // flip one byte in the middle of the stored blob (same size, so only the digest can tell)
  const file = anon.blobFile(layerDigest);
  const fd = openSync(file, 'r+');
  const byte = Buffer.alloc(1);
  const at = Math.floor(statSync(file).size / 2);
  readSync(fd, byte, 0, 1, at);
  byte[0] = (byte[0] ?? 0) ^ 0xff;
  writeSync(fd, byte, 0, 1, at);
  closeSync(fd);

  const store = newStore();
  const pull = await kapsel(['pull', `${anon.host}/kapsel-test/corrupt:v1`], { store });
  assert.equal(pull.status, 1, pull.stderr);
  assert.match(pull.stderr, new RegExp(`blob ${layerDigest}: content has digest sha256:[0-9a-f]{64}`));
  assert.deepEqual(storeIndex(store).manifests, [], 'no name in the store');
  assert.equal(existsSync(join(store, 'blobs', 'sha256', layerDigest.slice(7))), false, 'the bad blob is not stored');
  assert.equal(existsSync(join(store, 'blobs', 'sha256', image.digest.slice(7))), false, 'nor the manifest');
  assert.deepEqual(readdirSync(join(store, 'ingest')), [], 'nothing half-written is left');
  const run = await kapsel(['run', '--rm', `${anon.host}/kapsel-test/corrupt:v1`, 'true'], { store });
  assert.equal(run.status, 125);
  assert.match(run.stderr, /is not in the image store/);
});

test('an unknown tag, an unknown repository and a malformed reference give clear errors', async () => {
  const store = newStore();
  const tag = await kapsel(['pull', `${anon.host}/kapsel-test/app:no-such-tag`], { store });
  assert.equal(tag.status, 1, tag.stderr);
  assert.match(tag.stderr, new RegExp(`image \`${anon.host}/kapsel-test/app:no-such-tag\` not found in registry ${anon.host} \\(MANIFEST_UNKNOWN`));
  const repo = await kapsel(['pull', `${anon.host}/kapsel-test/no-such-repo`], { store });
  assert.equal(repo.status, 1, repo.stderr);
  assert.match(repo.stderr, new RegExp(`image \`${anon.host}/kapsel-test/no-such-repo:latest\` not found in registry`));
  const bad = await kapsel(['pull', `${anon.host}/Kapsel/UPPER`], { store });
  assert.equal(bad.status, 1, bad.stderr);
  assert.match(bad.stderr, /invalid reference/);
  // usage errors are kapsel's own: 125, as docker's flag errors
  const noRef = await kapsel(['pull'], { store });
  assert.equal(noRef.status, 125, noRef.stderr);
  const badPlatform = await kapsel(['pull', '--platform', 'linux', `${anon.host}/kapsel-test/app:v1`], { store });
  assert.equal(badPlatform.status, 125, badPlatform.stderr);
  assert.match(badPlatform.stderr, /invalid platform `linux`/);
  assert.deepEqual(storeIndex(store).manifests, []);
});

test('htpasswd basic auth: pull refused without login, wrong password refused, login/logout, docker config.json read', async () => {
  const reg = await startRegistry({ kind: 'htpasswd', username: 'alice', password: 's3cret-pw' });
  registries.push(reg);
  const image = await layout('private', [{ platform: amd64, layers: [busybox, await fileLayer('etc/marker', 'private\n')] }]);
  await pushLayout(image, `${reg.host}/kapsel-test/private:v1`, { creds: 'alice:s3cret-pw' });
  const name = `${reg.host}/kapsel-test/private:v1`;
  const authFile = join(work, 'basic-auth.json');
  const store = newStore();

  const denied = await kapsel(['pull', name], { store, authFile });
  assert.equal(denied.status, 1, denied.stderr);
  assert.match(denied.stderr, new RegExp(`pull ${reg.host}/kapsel-test/private at ${reg.host}: access denied`));
  assert.match(denied.stderr, new RegExp(`hint: .*kapsel login ${reg.host}`));

  const wrong = await kapsel(['login', '-u', 'alice', '-p', 'wrong', reg.host], { store, authFile });
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stderr, new RegExp(`login at ${reg.host}: wrong username or password`));
  assert.equal(existsSync(authFile), false, 'nothing saved after a refused login');

  const login = await kapsel(['login', '-u', 'alice', '--password-stdin', reg.host], { store, authFile, input: 's3cret-pw\n' });
  assert.equal(login.status, 0, login.stderr);
  assert.equal(login.stdout, 'Login Succeeded\n');
  const saved = JSON.parse(readFileSync(authFile, 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(saved.auths[reg.host]?.auth ?? '', 'base64').toString(), 'alice:s3cret-pw');

  const pull = await kapsel(['pull', name], { store, authFile });
  assert.equal(pull.status, 0, pull.stderr);
  assert.equal(named(store, name), image.digest);

  const logout = await kapsel(['logout', reg.host], { store, authFile });
  assert.equal(logout.status, 0, logout.stderr);
  assert.deepEqual(JSON.parse(readFileSync(authFile, 'utf8')).auths, {});
  const after = await kapsel(['pull', name], { store: newStore(), authFile });
  assert.equal(after.status, 1, after.stderr);
  assert.match(after.stderr, /access denied/);

  // docker's config.json is read when kapsel's file has no entry
  const dockerDir = join(work, 'docker-with-auth');
  mkdirSync(dockerDir);
  writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [`http://${reg.host}`]: { auth: Buffer.from('alice:s3cret-pw').toString('base64') } } }));
  const viaDocker = await kapsel(['pull', name], { store: newStore(), authFile, env: { DOCKER_CONFIG: dockerDir } });
  assert.equal(viaDocker.status, 0, viaDocker.stderr);
});

test('token auth: the registry\'s Bearer challenge sends kapsel to the token server, with credentials and the pull scope', async () => {
  const dir = mkdtempSync(join(work, 'token-'));
  tokenServer = await startTokenServer(dir, 'bob', 'token-pw');
  const reg = await startRegistry({ kind: 'token', realm: tokenServer.realm, service: tokenServer.service, issuer: tokenServer.issuer, rootCertBundle: tokenServer.certFile });
  registries.push(reg);
  const image = await layout('tokened', [{ platform: amd64, layers: [busybox, await fileLayer('etc/marker', 'tokened\n')] }]);
  await pushLayout(image, `${reg.host}/kapsel-test/tokened:v1`, { creds: 'bob:token-pw' });
  const name = `${reg.host}/kapsel-test/tokened:v1`;
  const authFile = join(work, 'token-auth.json');
  const store = newStore();

  const anonymous = await kapsel(['pull', name], { store, authFile });
  assert.equal(anonymous.status, 1, anonymous.stderr);
  assert.match(anonymous.stderr, /the token server refused anonymous access/);

  const wrong = await kapsel(['login', '-u', 'bob', '-p', 'nope', reg.host], { store, authFile });
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stderr, /wrong username or password/);
  assert.equal(existsSync(authFile), false);

  const login = await kapsel(['login', '-u', 'bob', '-p', 'token-pw', reg.host], { store, authFile });
  assert.equal(login.status, 0, login.stderr);
  tokenServer.requests.length = 0;
  const pull = await kapsel(['pull', name], { store, authFile });
  assert.equal(pull.status, 0, pull.stderr);
  assert.equal(named(store, name), image.digest);
  assert.deepEqual(tokenServer.requests, [{ scope: 'repository:kapsel-test/tokened:pull', user: 'bob' }], 'one token for the pull scope, fetched with the stored credentials');
  const run = await kapsel(['run', '--rm', '--name', `registry-token-${process.pid}`, name, 'cat', '/etc/marker'], { store });
  assert.equal(run.stdout, 'tokened\n', run.stderr);
});

test('a loopback registry serving HTTPS with a self-signed certificate is pulled over TLS (insecure-allowed, not verified)', async () => {
  const dir = mkdtempSync(join(work, 'tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const gen = await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  assert.equal(gen.status, 0, gen.stderr);
  const reg = await startRegistry({ kind: 'none' }, { cert, key });
  registries.push(reg);
  const image = await layout('tls', [{ platform: amd64, layers: [busybox, await fileLayer('etc/marker', 'tls\n')] }]);
  await pushLayout(image, `${reg.host}/kapsel-test/tls:v1`);
  const store = newStore();
  const pull = await kapsel(['pull', `${reg.host}/kapsel-test/tls:v1`], { store });
  assert.equal(pull.status, 0, pull.stderr);
  assert.equal(named(store, `${reg.host}/kapsel-test/tls:v1`), image.digest);
  // the registry refuses plain HTTP (Go answers 400), so the pull went over TLS
  const plain = await fetch(`http://${reg.host}/v2/`).then((r) => r.status, () => 0);
  assert.equal(plain, 400, 'the registry speaks TLS only');
});
