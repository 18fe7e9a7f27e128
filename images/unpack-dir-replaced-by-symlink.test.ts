// Attack: a directory is replaced by a symlink to the outside and then written into, within one
// layer or across layers; and the deferred directory mode/mtime must not be applied through it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { buildTar, sandbox, streamOf, testOptions } from './layer-fixture.js';
import { unpackLayer, unpackLayers } from './unpack.js';

const box = sandbox();
after(() => box.cleanup());

test('directory replaced by a symlink then written into: within one layer', async () => {
  const before = box.snapshotHost();
  await unpackLayer(box.rootfs, streamOf(await buildTar([
    { header: { name: 'd/', type: 'directory', mode: 0o700, mtime: new Date(0) } },
    { header: { name: 'd/a/', type: 'directory', mode: 0o777, mtime: new Date(0) } },
    { header: { name: 'd/a/f' }, content: 'first' },
    { header: { name: 'd', type: 'symlink', linkname: box.host } },
    { header: { name: 'd/a/pwned' }, content: 'pwned' },
    { header: { name: 'd/etc/passwd' }, content: 'pwned' },
  ])), testOptions());
  // the host's directories keep their modes and mtimes: the deferred chmod/utimes of `d` and
  // `d/a` were not applied through the symlink
  assert.equal(box.snapshotHost(), before);
  assert.equal(readlinkSync(join(box.rootfs, 'd')), box.host);
  assert.equal(readFileSync(join(box.rootfs, box.host, 'a', 'pwned'), 'utf8'), 'pwned');
  assert.equal(readFileSync(join(box.rootfs, box.host, 'etc', 'passwd'), 'utf8'), 'pwned');
});

test('directory replaced by a symlink then written into: across layers', async () => {
  const b = sandbox();
  try {
    const before = b.snapshotHost();
    const lower = await buildTar([{ header: { name: 'etc/', type: 'directory' } }, { header: { name: 'etc/hosts' }, content: 'h' }]);
    const upper = await buildTar([
      { header: { name: 'etc', type: 'symlink', linkname: join(b.host, 'etc') } },
      { header: { name: 'etc/passwd' }, content: 'pwned' },
    ]);
    await unpackLayers(b.rootfs, [
      { digest: 'sha256:lower', open: () => streamOf(lower) },
      { digest: 'sha256:upper', open: () => streamOf(upper) },
    ], testOptions());
    assert.equal(b.snapshotHost(), before);
    assert.equal(readFileSync(join(b.rootfs, b.host, 'etc', 'passwd'), 'utf8'), 'pwned');
  } finally {
    b.cleanup();
  }
});
