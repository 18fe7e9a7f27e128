// Attack: the same name several times with different types, so that a later entry is written
// through what an earlier one left (a symlink planted under a name a file is written to).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { buildTar, sandbox, streamOf, testOptions } from './layer-fixture.js';
import { unpackLayer } from './unpack.js';

const box = sandbox();
after(() => box.cleanup());

test('duplicate entries: the later entry wins and never writes through an earlier symlink', async () => {
  const before = box.snapshotHost();
  const victim = join(box.host, 'etc', 'passwd');
  await unpackLayer(box.rootfs, streamOf(await buildTar([
    { header: { name: 'f' }, content: 'one' },
    { header: { name: 'f' }, content: 'two' },
    { header: { name: 'p', type: 'symlink', linkname: victim } },
    { header: { name: 'p' }, content: 'replaces the symlink' },
    { header: { name: 'd/', type: 'directory' } },
    { header: { name: 'd/inner' }, content: 'x' },
    { header: { name: 'd', type: 'symlink', linkname: box.host } },
    { header: { name: 'd', type: 'directory' } },
    { header: { name: 'd/etc/passwd' }, content: 'inside' },
    { header: { name: 'h', type: 'symlink', linkname: victim } },
    { header: { name: 'h', type: 'link', linkname: 'f' } },
  ])), testOptions());
  assert.equal(box.snapshotHost(), before);
  assert.equal(readFileSync(join(box.rootfs, 'f'), 'utf8'), 'two');
  assert.ok(lstatSync(join(box.rootfs, 'p')).isFile());
  assert.equal(readFileSync(join(box.rootfs, 'p'), 'utf8'), 'replaces the symlink');
  assert.ok(lstatSync(join(box.rootfs, 'd')).isDirectory());
  assert.equal(readFileSync(join(box.rootfs, 'd/etc/passwd'), 'utf8'), 'inside');
  assert.equal(lstatSync(join(box.rootfs, 'h')).ino, lstatSync(join(box.rootfs, 'f')).ino);
  assert.throws(() => readlinkSync(join(box.rootfs, 'h')));
});
