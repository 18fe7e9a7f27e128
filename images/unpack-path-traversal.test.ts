// Attack: `../` in an entry name climbs out of the target (CVE-2018-1002200 "zip slip" class).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { buildTar, sandbox, streamOf, testOptions } from './layer-fixture.js';
import { unpackLayer } from './unpack.js';

const LAYER = `sha256:${'a'.repeat(64)}`;
const box = sandbox();
after(() => box.cleanup());

test('path traversal: `../` entries are refused, naming the entry, and nothing lands outside', async () => {
  const before = box.snapshotHost();
  for (const name of ['../host/pwned', 'a/../../host/pwned', './../host/etc/passwd', 'x/../../../../../../../tmp/pwned']) {
    const tar = await buildTar([{ header: { name: 'ok' }, content: 'fine' }, { header: { name }, content: 'pwned' }]);
    await assert.rejects(unpackLayer(box.rootfs, streamOf(tar), testOptions(LAYER)), (err: unknown) => {
      assert.ok(err instanceof KapselError);
      assert.equal(err.code, 'ERR_IMAGE_LAYER_UNSAFE');
      assert.equal(err.message, `layer ${LAYER}: entry \`${name}\`: path escapes the root`);
      return true;
    });
  }
  assert.equal(box.snapshotHost(), before);
  assert.deepEqual(readdirSync(box.dir).sort(), ['host', 'rootfs']);
  assert.equal(existsSync(join(box.dir, 'pwned')), false);
});

test('path traversal: `..` that stays inside is cleaned lexically, not an escape', async () => {
  await unpackLayer(box.rootfs, streamOf(await buildTar([{ header: { name: 'a/b/../c' }, content: 'c' }])), testOptions(LAYER));
  assert.deepEqual(readdirSync(join(box.rootfs, 'a')), ['c']);
});
