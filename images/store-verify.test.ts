// verifyStore: a consistent store passes; a blob whose content changed, a named manifest whose
// layer is missing, and a garbled index.json are each reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MEDIA_TYPE } from './oci-types.js';
import type { ContentStore } from './store.js';
import { storeImage, tempStores } from './store-fixture.js';
import { verifyStore } from './store-verify.js';

const openStore = tempStores('kapsel-store-verify-test-');

/** A new store with one image named example.test/app:v1. */
async function storeWithImage(): Promise<{ store: ContentStore; layer: string; config: string }> {
  const store = await openStore();
  const { manifest, layer, config } = await storeImage(store, 'v1');
  await store.tag('example.test/app:v1', manifest);
  return { store, layer, config };
}

test('a consistent store has no problems and lists its names and blobs', async () => {
  const { store } = await storeWithImage();
  assert.deepEqual(await verifyStore(store.root), { blobs: 3, names: ['example.test/app:v1'], ingest: [], problems: [] });
});

test('a blob whose content does not hash to its name is reported', async () => {
  const { store, config } = await storeWithImage();
  writeFileSync(store.blobPath(config), 'torn');
  const report = await verifyStore(store.root);
  assert.equal(report.problems.length, 2, report.problems.join('\n'));
  assert.match(report.problems[0] ?? '', new RegExp(`^blob ${config}: content has digest sha256:[0-9a-f]{64}$`));
  assert.match(report.problems[1] ?? '', new RegExp(`\`example.test/app:v1\` → sha256:[0-9a-f]{64}: blob ${config} .* is missing`));
});

test('a named image with a missing layer is reported', async () => {
  const { store, layer } = await storeWithImage();
  unlinkSync(store.blobPath(layer));
  const report = await verifyStore(store.root);
  assert.equal(report.problems.length, 1);
  assert.match(report.problems[0] ?? '', new RegExp(`blob ${layer} \\(${MEDIA_TYPE.ociLayer.replace(/[.+]/g, '\\$&')}\\) is missing`));
});

test('a garbled index.json is reported', async () => {
  const { store } = await storeWithImage();
  writeFileSync(join(store.root, 'index.json'), '{"schemaVersion":2,"manifests":[');
  const report = await verifyStore(store.root);
  assert.equal(report.problems.length, 1);
  assert.match(report.problems[0] ?? '', /^index\.json: /);
});
