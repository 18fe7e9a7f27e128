import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { findImage } from './image-find.js';
import { SIMPLE_LAYERS, storeTestImage } from './image-fixture.js';
import { inspectImage, listImages, pruneImages, removeImages, tagImage } from './image-manage.js';
import { ContentStore } from './store.js';

const tmp = mkdtempSync(join(tmpdir(), 'kapsel-manage-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const openStore = (): Promise<ContentStore> => ContentStore.open({ root: join(tmp, `s${n++}`), syscalls: linuxSyscalls() });
const code = (c: string, re?: RegExp) => (err: unknown): boolean => err instanceof KapselError && err.code === c && (re === undefined || re.test(err.message));

test('images lists one row per name, newest first; inspect gives docker-like fields', async () => {
  const store = await openStore();
  await storeTestImage(store, 'docker.io/library/old:1', SIMPLE_LAYERS, { created: '2020-01-01T00:00:00Z' });
  await storeTestImage(store, 'quay.io/team/new:2', SIMPLE_LAYERS, { created: '2025-01-01T00:00:00Z', config: { Cmd: ['x'], Labels: { a: 'b' } } });
  const rows = await listImages(store);
  assert.deepEqual(rows.map((r) => `${r.Repository}:${r.Tag}`), ['quay.io/team/new:2', 'old:1']);
  const doc = await inspectImage(store, 'quay.io/team/new:2');
  assert.deepEqual(doc.RepoTags, ['quay.io/team/new:2']);
  assert.match(doc.RepoDigests[0]!, /^quay\.io\/team\/new@sha256:[0-9a-f]{64}$/);
  assert.deepEqual([doc.Architecture, doc.Os, doc.Created], ['amd64', 'linux', '2025-01-01T00:00:00Z']);
  assert.deepEqual(doc.Config, { Cmd: ['x'], Labels: { a: 'b' } });
  assert.equal(doc.RootFS.Layers.length, 2);
  assert.equal(doc.Id, rows[0]!.ID);
  assert.ok(doc.Size > 0);
});

test('find by ID prefix, ambiguous and unknown references', async () => {
  const store = await openStore();
  await storeTestImage(store, 'docker.io/library/a:1', SIMPLE_LAYERS);
  const id = (await listImages(store))[0]!.ID;
  assert.deepEqual((await findImage(store, id.slice(7, 13))).names, ['docker.io/library/a:1']);
  assert.deepEqual((await findImage(store, 'a:1')).requestedName, 'docker.io/library/a:1');
  await assert.rejects(findImage(store, 'nope'), code('ERR_IMAGE_NOT_FOUND'));
});

test('tag, then rmi by name untags; the last name deletes the blobs; in-use and multi-name IDs need -f', async () => {
  const store = await openStore();
  await storeTestImage(store, 'docker.io/library/a:1', SIMPLE_LAYERS);
  assert.equal(await tagImage(store, 'a:1', 'b:2'), 'docker.io/library/b:2');
  const id = (await findImage(store, 'b:2')).id;
  await assert.rejects(removeImages(store, [id]), code('ERR_IMAGE_IN_USE', /has 2 names/));
  await assert.rejects(removeImages(store, ['a:1'], { inUse: async () => ['ctr1'] }), code('ERR_IMAGE_IN_USE', /`ctr1`/));
  assert.deepEqual(await removeImages(store, ['a:1']), [{ Untagged: 'a:1' }]);
  assert.ok(readdirSync(join(store.root, 'blobs', 'sha256')).length > 0);
  const events = await removeImages(store, ['b:2'], { force: true, inUse: async () => ['ctr1'] });
  assert.deepEqual(events[0], { Untagged: 'b:2' });
  assert.deepEqual(events[1], { Deleted: id });
  assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), []);
});

test('prune deletes unreferenced blobs older than the grace time only', async () => {
  const store = await openStore();
  await storeTestImage(store, 'docker.io/library/a:1', SIMPLE_LAYERS);
  const stray = await store.put(Buffer.from('stray'));
  assert.deepEqual((await pruneImages(store, { graceMs: 60_000 })).blobs, []);
  assert.deepEqual((await pruneImages(store, { graceMs: 0 })).blobs, [stray.digest]);
  assert.equal((await listImages(store)).length, 1);
});
