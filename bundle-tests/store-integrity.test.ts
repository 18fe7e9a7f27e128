// The image store under stress, with the built `kapsel` against a real registry (Debian's
// docker-registry on 127.0.0.1): concurrent pulls of one image with a load and a run into the
// same store; a store on a tmpfs too small for the image (pull, then load); a pull killed with
// SIGKILL in the middle of a layer. After each, verifyStore (an fsck: every blob hashes to its
// name, every name's graph is complete) finds nothing wrong and no half image has a name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyStore } from '../images/store-verify.js';
import { REPO, mountsUnder, sleepMs } from './helpers.js';
import { busyboxLayer, exec, fileLayer, pushLayout, startRegistry, writeLayout, type BuiltLayout, type ExecResult, type TestRegistry } from './registry-fixture.js';

const KAPSEL = join(REPO, 'bin', 'kapsel');
const work = mkdtempSync(join(tmpdir(), 'kapsel-store-integrity-'));
const state = join(work, 'state');
const dockerConfig = join(work, 'docker-config');
mkdirSync(dockerConfig);
const mounts: string[] = [];
let registry: TestRegistry;
let big: BuiltLayout;
let bigName: string;
let stores = 0;
const amd64 = { os: 'linux', architecture: 'amd64' };
const RANDOM_LAYER_BYTES = 12 * 1024 * 1024;

function env(store: string): NodeJS.ProcessEnv {
  return { ...process.env, KAPSEL_STORE: store, KAPSEL_STATE: state, KAPSEL_AUTH_FILE: join(work, 'no-auth.json'), DOCKER_CONFIG: dockerConfig };
}

function kapsel(args: string[], store: string): Promise<ExecResult> {
  return exec(KAPSEL, args, { env: env(store) });
}

function newStore(parent = work): string {
  const dir = join(parent, `store-${stores++}`);
  mkdirSync(dir);
  return dir;
}

function names(store: string): string[] {
  const path = join(store, 'index.json');
  if (!existsSync(path)) return [];
  const index = JSON.parse(readFileSync(path, 'utf8')) as { manifests: { annotations?: Record<string, string> }[] };
  return index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'] ?? '').sort();
}

/** A layer holding `bytes` of random data (incompressible, so gzip keeps its size). */
async function randomLayer(bytes: number): Promise<Buffer> {
  const dir = mkdtempSync(join(work, 'random-'));
  mkdirSync(join(dir, 'root', 'data'), { recursive: true });
  writeFileSync(join(dir, 'root', 'data', 'random.bin'), randomBytes(bytes));
  const r = await exec('tar', ['--sort=name', '--numeric-owner', '--owner=0', '--group=0', '--mtime=@0', '-C', join(dir, 'root'), '-cf', join(dir, 'l.tar'), '.']);
  assert.equal(r.status, 0, r.stderr);
  const tar = readFileSync(join(dir, 'l.tar'));
  rmSync(dir, { recursive: true, force: true });
  return tar;
}

async function tmpfs(sizeMib: number): Promise<string> {
  const dir = mkdtempSync(join(work, 'tmpfs-'));
  const r = await exec('mount', ['-t', 'tmpfs', '-o', `size=${sizeMib}m,mode=0755`, `kapsel-test-${process.pid}`, dir]);
  assert.equal(r.status, 0, r.stderr);
  mounts.push(dir);
  return dir;
}

async function resize(dir: string, sizeMib: number): Promise<void> {
  const r = await exec('mount', ['-o', `remount,size=${sizeMib}m`, dir]);
  assert.equal(r.status, 0, r.stderr);
}

async function assertConsistent(store: string, want: string[]): Promise<void> {
  const report = await verifyStore(store);
  assert.deepEqual(report.problems, [], `store ${store} is consistent`);
  assert.deepEqual(report.names.sort(), want.sort());
  assert.deepEqual(report.ingest, [], 'nothing left in ingest/');
  const images = await kapsel(['images', '--format', 'json'], store);
  assert.equal(images.status, 0, `kapsel images works: ${images.stderr}`);
}

before(async () => {
  registry = await startRegistry();
  big = writeLayout(join(work, 'layouts', 'big'), 'v1', [{ platform: amd64, layers: [await busyboxLayer(), await randomLayer(RANDOM_LAYER_BYTES)] }]);
  bigName = `${registry.host}/kapsel-test/big:v1`;
  await pushLayout(big, bigName);
});

after(async () => {
  await registry.stop();
  for (const dir of mounts) await exec('umount', [dir]);
  const left = mountsUnder(work);
  rmSync(work, { recursive: true, force: true });
  assert.deepEqual(left, [], 'no tmpfs left mounted');
  assert.equal(existsSync(registry.dir), false);
});

test('three concurrent pulls of one image, a load of another and a run of a third into one store all succeed and leave it consistent', async () => {
  const store = newStore();
  const other = writeLayout(join(work, 'layouts', 'other'), 'v1', [{ platform: amd64, layers: [await fileLayer('etc/other', 'other\n')] }]);
  const runName = `integrity-run-${process.pid}`;
  const results = await Promise.all([
    kapsel(['pull', '-q', bigName], store),
    kapsel(['pull', '-q', bigName], store),
    kapsel(['pull', '-q', bigName], store),
    exec(KAPSEL, ['load', '-i', other.dir], { env: env(store) }),
    kapsel(['run', '--rm', '--name', runName, 'busybox', 'echo', 'hello'], store),
  ]);
  for (const r of results) assert.equal(r.status, 0, r.stderr);
  assert.equal(results[4]?.stdout, 'hello\n');
  assert.match(results[3]?.stdout ?? '', /Loaded image: /);
  await assertConsistent(store, [bigName, 'docker.io/library/busybox:latest', 'docker.io/library/v1:latest']);
});

test('a store on a full filesystem: the pull fails with ENOSPC naming the blob and store, no name appears; with more space it succeeds', async () => {
  const fs = await tmpfs(4);
  const store = newStore(fs);
  const pull = await kapsel(['pull', '-q', bigName], store);
  assert.notEqual(pull.status, 0);
  assert.match(pull.stderr, new RegExp(`write blob sha256:[0-9a-f]{64} into \`${store}\`: ENOSPC \\(no space left on the store's filesystem\\)`));
  assert.match(pull.stderr, /hint: free space/);
  assert.deepEqual(names(store), []);
  await assertConsistent(store, []);

  await resize(fs, 64);
  const again = await kapsel(['pull', '-q', bigName], store);
  assert.equal(again.status, 0, again.stderr);
  await assertConsistent(store, [bigName]);
});

test('a load onto a full filesystem fails with ENOSPC naming the archive entry, leaves no name; with more space it succeeds', async () => {
  const fs = await tmpfs(4);
  const store = newStore(fs);
  const load = await kapsel(['load', '-i', big.dir], store);
  assert.notEqual(load.status, 0);
  assert.match(load.stderr, /stage archive entry `blobs\/sha256\/[0-9a-f]{64}` into `[^`]+`: ENOSPC \(no space left on the store's filesystem\)/);
  assert.deepEqual(names(store), []);
  await assertConsistent(store, []);

  await resize(fs, 64);
  const again = await kapsel(['load', '-i', big.dir], store);
  assert.equal(again.status, 0, again.stderr);
  await assertConsistent(store, ['docker.io/library/v1:latest']);
});

/**
 * A TCP proxy to the registry that forwards at most `budget` response bytes, then holds the
 * rest until release(): a pull through it stops in the middle of a layer, deterministically.
 */
async function stallingProxy(target: string, budget: number): Promise<{ host: string; release: () => void; close: () => Promise<void> }> {
  const [host, port] = target.split(':') as [string, string];
  let forwarded = 0;
  let released = false;
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host, port: Number(port) });
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (released || forwarded + chunk.length <= budget) {
        forwarded += chunk.length;
        client.write(chunk);
        return;
      }
      upstream.pause();
      held.push(() => {
        client.write(chunk);
        upstream.resume();
      });
    });
    upstream.on('end', () => client.end());
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxyPort = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    host: `127.0.0.1:${proxyPort}`,
    release: () => {
      released = true;
      for (const flush of held.splice(0)) flush();
    },
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

test('kill -9 of a pull in the middle of a layer leaves no name; the next pull removes the leftover and succeeds', async () => {
  const proxy = await stallingProxy(registry.host, 4 * 1024 * 1024);
  try {
    const name = `${proxy.host}/kapsel-test/big:v1`;
    const store = newStore();
    const child = spawn(KAPSEL, ['pull', '-q', name], { env: env(store), stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    const exited = new Promise<string | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    // wait until a layer is partly written into ingest/
    const ingest = join(store, 'ingest');
    for (let i = 0; ; i++) {
      const partial = existsSync(ingest) && readdirSync(ingest).some((f) => statSync(join(ingest, f)).size > 0);
      if (partial) break;
      assert.ok(i < 600 && child.exitCode === null, `the pull should stall mid-layer: ${Buffer.concat(stderr).toString()}`);
      await sleepMs(50);
    }
    process.kill(child.pid as number, 'SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.deepEqual(names(store), [], 'no name after the kill');
    const leftovers = readdirSync(ingest);
    assert.ok(leftovers.length > 0, 'the killed pull left a partial blob in ingest/');
    const report = await verifyStore(store);
    assert.deepEqual(report.problems, []);

    proxy.release();
    await sleepMs(1100); // an unlocked ingest file counts as abandoned after a second
    const again = await kapsel(['pull', '-q', name], store);
    assert.equal(again.status, 0, again.stderr);
    for (const f of leftovers) assert.equal(existsSync(join(ingest, f)), false, `leftover ${f} removed`);
    await assertConsistent(store, [name]);
  } finally {
    await proxy.close();
  }
});
