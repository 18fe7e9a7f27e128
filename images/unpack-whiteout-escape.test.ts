// Attack: a whiteout aimed outside the target (`../.wh.x`, `.wh...`, or through a symlink), so
// that applying the layer deletes host files.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { buildTar, sandbox, streamOf, testOptions } from './layer-fixture.js';
import { unpackLayer } from './unpack.js';

const LAYER = `sha256:${'c'.repeat(64)}`;
const box = sandbox();
after(() => box.cleanup());

test('whiteout escape: `../.wh.host` and `.wh...` are refused, naming the entry', async () => {
  const before = box.snapshotHost();
  const cases: Array<[string, string]> = [
    ['../.wh.host', 'path escapes the root'],
    ['a/../../.wh.host', 'path escapes the root'],
    ['.wh...', 'whiteout of `..` is not a file name'],
    ['sub/.wh..', 'whiteout of `.` is not a file name'],
  ];
  for (const [name, reason] of cases) {
    await assert.rejects(unpackLayer(box.rootfs, streamOf(await buildTar([{ header: { name } }])), testOptions(LAYER)), (err: unknown) => {
      assert.ok(err instanceof KapselError);
      assert.equal(err.code, 'ERR_IMAGE_LAYER_UNSAFE');
      assert.equal(err.message, `layer ${LAYER}: entry \`${name}\`: ${reason}`);
      return true;
    });
  }
  assert.equal(box.snapshotHost(), before);
  assert.deepEqual(readdirSync(box.dir).sort(), ['host', 'rootfs']);
});

test('whiteout escape: whiteouts and opaque markers below a symlink to the host stay inside', async () => {
  const before = box.snapshotHost();
  await unpackLayer(box.rootfs, streamOf(await buildTar([
    { header: { name: 'keep' }, content: 'k' },
    { header: { name: 's', type: 'symlink', linkname: join(box.host, 'etc') } },
    { header: { name: 't', type: 'symlink', linkname: box.host } },
  ])), testOptions());
  await unpackLayer(box.rootfs, streamOf(await buildTar([
    { header: { name: 's/.wh.passwd' } },
    { header: { name: 't/.wh..wh..opq' } },
    { header: { name: `${box.host}/.wh.etc` } },
  ])), testOptions());
  assert.equal(box.snapshotHost(), before);
  assert.ok(existsSync(join(box.host, 'etc', 'passwd')));
  assert.ok(existsSync(join(box.rootfs, 'keep')));
});
