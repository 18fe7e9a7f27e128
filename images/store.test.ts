import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { KapselError } from '../common/errors.js';
import { sha256Digest } from './digest.js';
import { MEDIA_TYPE, type Descriptor } from './oci-types.js';
import { storeImage, tempStores } from './store-fixture.js';

const openStore = tempStores('kapsel-store-test-');

function hasCode(code: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof KapselError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  };
}

test('a new store is an OCI image layout', async () => {
  const store = await openStore();
  assert.deepEqual(JSON.parse(readFileSync(join(store.root, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  assert.ok(existsSync(join(store.root, 'blobs', 'sha256')));
  assert.deepEqual(await store.list(), []);
  await openStore(store.root); // reopening keeps it
});

test('put streams a blob into blobs/sha256/<hex>; get and has find it', async () => {
  const store = await openStore();
  const data = Buffer.alloc(3 * 65536 + 7, 'x');
  const want = sha256Digest(data);
  const info = await store.put(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), want, data.length);
  assert.deepEqual(info, { digest: want, size: data.length });
  assert.ok(await store.has(want));
  assert.deepEqual(readFileSync(join(store.root, 'blobs', 'sha256', want.slice(7))), data);
  assert.deepEqual(await store.get(want), data);
  assert.equal(await store.has(sha256Digest('other')), false);
  assert.deepEqual(readdirSync(join(store.root, 'ingest')), []);
  // the same content again is fine
  assert.deepEqual(await store.put(data), info);
});

test('a digest mismatch leaves nothing behind', async () => {
  const store = await openStore();
  const claimed = sha256Digest('what the registry promised');
  await assert.rejects(store.put(Readable.from([Buffer.from('something else')]), claimed), (err: unknown) => {
    hasCode('ERR_IMAGE_DIGEST_MISMATCH')(err);
    assert.match((err as Error).message, new RegExp(`^blob ${claimed}: content has digest ${sha256Digest('something else')} \\(14 bytes\\)$`));
    return true;
  });
  assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), []);
  assert.deepEqual(readdirSync(join(store.root, 'ingest')), []);
  assert.equal(await store.has(claimed), false);
});

test('more bytes than announced stop the write early; nothing is kept', async () => {
  const store = await openStore();
  let produced = 0;
  async function* endless(): AsyncGenerator<Buffer> {
    for (;;) {
      produced += 1024;
      yield Buffer.alloc(1024);
    }
  }
  await assert.rejects(store.put(endless(), sha256Digest('x'), 4096), hasCode('ERR_IMAGE_SIZE_MISMATCH'));
  assert.ok(produced <= 8192);
  await assert.rejects(store.put(Buffer.from('abc'), sha256Digest('abc'), 4), hasCode('ERR_IMAGE_SIZE_MISMATCH'));
  assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), []);
  assert.deepEqual(readdirSync(join(store.root, 'ingest')), []);
});

test('a source that fails midway (an interrupted pull) leaves nothing behind', async () => {
  const store = await openStore();
  async function* broken(): AsyncGenerator<Buffer> {
    yield Buffer.alloc(100_000, 1);
    throw new Error('connection reset');
  }
  await assert.rejects(store.put(broken()), /connection reset/);
  assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), []);
  assert.deepEqual(readdirSync(join(store.root, 'ingest')), []);
});

test('digests that are not sha256 never become paths', async () => {
  const store = await openStore();
  await assert.rejects(store.get('sha256:../../../etc/passwd'), hasCode('ERR_IMAGE_DIGEST'));
  await assert.rejects(store.has(`sha512:${'a'.repeat(128)}`), /only sha256/);
  await assert.rejects(store.put(Buffer.from('x'), 'sha256:abc'), hasCode('ERR_IMAGE_DIGEST'));
});

test('get detects a blob whose content no longer matches its name', async () => {
  const store = await openStore();
  const { digest } = await store.put(Buffer.from('good'));
  writeFileSync(store.blobPath(digest), 'bad');
  await assert.rejects(store.get(digest), hasCode('ERR_IMAGE_STORE_CORRUPT'));
});

test('tag, resolve, list, retag and remove', async () => {
  const store = await openStore();
  const a = await storeImage(store, 'a');
  const b = await storeImage(store, 'b');
  await store.tag('docker.io/library/a:latest', a.manifest);
  await store.tag('docker.io/library/b:latest', b.manifest);
  assert.equal((await store.resolve('docker.io/library/a:latest'))?.digest, a.manifest.digest);
  await store.tag('docker.io/library/a:latest', b.manifest);
  assert.equal((await store.resolve('docker.io/library/a:latest'))?.digest, b.manifest.digest);
  assert.deepEqual((await store.list()).map((i) => i.name), ['docker.io/library/b:latest', 'docker.io/library/a:latest']);
  const index = JSON.parse(readFileSync(join(store.root, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  assert.equal(index.manifests[0]?.annotations?.['org.opencontainers.image.ref.name'], 'docker.io/library/b:latest');
  assert.equal((await store.remove('docker.io/library/a:latest'))?.digest, b.manifest.digest);
  assert.equal(await store.remove('docker.io/library/a:latest'), undefined);
  assert.equal(await store.resolve('docker.io/library/a:latest'), undefined);
  await assert.rejects(store.tag('x', { mediaType: MEDIA_TYPE.ociManifest, digest: sha256Digest('absent'), size: 1 }), hasCode('ERR_IMAGE_BLOB_MISSING'));
  await assert.rejects(store.tag('', a.manifest), hasCode('ERR_IMAGE_REFERENCE'));
});

test('a corrupt index.json is reported, not silently replaced', async () => {
  const store = await openStore();
  writeFileSync(join(store.root, 'index.json'), '{"schemaVersion": 2, "manif');
  await assert.rejects(store.list(), hasCode('ERR_IMAGE_STORE_CORRUPT'));
});

test('concurrent taggers in one process (two store handles, 60 promises) lose no name', async () => {
  const first = await openStore();
  const second = await openStore(first.root);
  const { manifest } = await storeImage(first, 'c');
  await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? first : second).tag(`img-${i}`, manifest)));
  const names = (await first.list()).map((i) => i.name).sort();
  assert.deepEqual(names, Array.from({ length: 60 }, (_, i) => `img-${i}`).sort());
});

test('concurrent taggers in 8 processes lose no name, and readers never see a torn index.json', async () => {
  const store = await openStore();
  const { manifest } = await storeImage(store, 'p');
  await store.tag('first', manifest);
  const storeUrl = new URL('./store.js', import.meta.url).href;
  const sysUrl = new URL('../sys/linux-syscalls.js', import.meta.url).href;
  const script = `
    import { ContentStore } from ${JSON.stringify(storeUrl)};
    import { linuxSyscalls } from ${JSON.stringify(sysUrl)};
    const [root, id, descriptor] = process.argv.slice(1);
    const store = await ContentStore.open({ root, syscalls: linuxSyscalls() });
    for (let i = 0; i < 15; i++) await store.tag('proc-' + id + '-' + i, JSON.parse(descriptor));
  `;
  let torn = 0;
  let reading = true;
  const reader = (async () => {
    while (reading) {
      try {
        JSON.parse(readFileSync(join(store.root, 'index.json'), 'utf8'));
      } catch {
        torn++;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  const runs = Array.from({ length: 8 }, (_, id) => new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, store.root, String(id), JSON.stringify(manifest)], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', resolve);
  }));
  assert.deepEqual(await Promise.all(runs), Array(8).fill(0));
  reading = false;
  await reader;
  assert.equal(torn, 0);
  assert.equal((await store.list()).length, 1 + 8 * 15);
  assert.deepEqual(readdirSync(store.root).filter((f) => f.endsWith('.tmp')), []);
});

test('gc removes blobs no name reaches and keeps the rest', async () => {
  const store = await openStore();
  const kept = await storeImage(store, 'kept');
  const dropped = await storeImage(store, 'dropped');
  const index = await store.putJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociIndex,
    manifests: [
      { ...kept.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      // a platform that was never pulled: absent, skipped
      { mediaType: MEDIA_TYPE.ociManifest, digest: sha256Digest('arm64 manifest'), size: 10, platform: { os: 'linux', architecture: 'arm64' } },
    ],
  });
  await store.tag('multi', { mediaType: MEDIA_TYPE.ociIndex, ...index });
  await store.tag('dropped', dropped.manifest);
  await store.remove('dropped');
  const orphan = await store.put(Buffer.from('fresh orphan'));
  // everything is young: the default grace period keeps it all
  assert.deepEqual((await store.gc()).removed, []);
  const old = new Date(Date.now() - 2 * 3600_000);
  for (const d of [dropped.manifest.digest, dropped.config, dropped.layer]) utimesSync(store.blobPath(d), old, old);
  const result = await store.gc();
  assert.deepEqual(result.removed.sort(), [dropped.manifest.digest, dropped.config, dropped.layer].sort());
  assert.ok(result.freedBytes > 0);
  for (const d of [index.digest, kept.manifest.digest, kept.config, kept.layer, orphan.digest]) assert.ok(await store.has(d), d);
  assert.deepEqual((await store.gc({ graceMs: 0 })).removed, [orphan.digest]);
});

test('gc clears ingest files left by a crashed writer', async () => {
  const store = await openStore();
  const stale = join(store.root, 'ingest', 'crashed');
  writeFileSync(stale, 'partial');
  const old = new Date(Date.now() - 2 * 3600_000);
  utimesSync(stale, old, old);
  await store.gc();
  assert.equal(existsSync(stale), false);
});

test('removeAbandonedIngest removes old unlocked ingest files and keeps locked, young ones and staging dirs', async () => {
  const store = await openStore();
  const ingest = join(store.root, 'ingest');
  const old = new Date(Date.now() - 60_000);
  for (const name of ['dead', 'held', 'young']) writeFileSync(join(ingest, name), 'partial');
  utimesSync(join(ingest, 'dead'), old, old);
  utimesSync(join(ingest, 'held'), old, old);
  const stage = await store.makeStagingDir();
  utimesSync(stage, old, old);
  // another process holds flock(2) on `held`, as a live put() does
  // (--close: the shell does not inherit the lock; it exits when its stdin closes, then flock)
  const holder = spawn('flock', ['--exclusive', '--close', join(ingest, 'held'), '-c', 'echo locked; read _'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => holder.once('exit', resolve));
  try {
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    assert.deepEqual(await store.removeAbandonedIngest(), ['dead']);
    assert.deepEqual(readdirSync(ingest).sort(), ['held', stage.slice(ingest.length + 1), 'young'].sort());
  } finally {
    holder.stdin.end();
    await exited;
  }
});

test('put of a blob larger than several write batches, in socket-sized chunks, stores it byte for byte', async () => {
  const store = await openStore();
  const data = Buffer.alloc(5 * 1024 * 1024 + 12345);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
  const chunks: Buffer[] = [];
  for (let off = 0; off < data.length; off += 65536) chunks.push(data.subarray(off, off + 65536));
  const info = await store.put(Readable.from(chunks), sha256Digest(data), data.length);
  assert.equal(info.size, data.length);
  assert.ok(readFileSync(store.blobPath(info.digest)).equals(data));
  assert.deepEqual(readdirSync(join(store.root, 'ingest')), []);
});
