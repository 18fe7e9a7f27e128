// verifyStore: a consistent store passes; a blob whose content changed, a named manifest whose
// layer is missing, and a garbled index.json are each reported.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { MEDIA_TYPE } from './oci-types.js';
import { ContentStore } from './store.js';
import { verifyStore } from './store-verify.js';

const tmp = mkdtempSync(join(tmpdir(), 'kapsel-store-verify-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

async function storeWithImage(): Promise<{ store: ContentStore; layer: string; config: string }> {
  const store = await ContentStore.open({ root: join(tmp, `s${n++}`), syscalls: linuxSyscalls() });
  const layer = await store.put(Buffer.from('layer bytes'));
  const config = await store.putJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } });
  const manifest = await store.putJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociManifest,
    config: { mediaType: MEDIA_TYPE.ociConfig, ...config },
    layers: [{ mediaType: MEDIA_TYPE.ociLayer, ...layer }],
  });
  await store.tag('example.test/app:v1', { mediaType: MEDIA_TYPE.ociManifest, ...manifest });
  return { store, layer: layer.digest, config: config.digest };
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
