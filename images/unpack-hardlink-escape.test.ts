// Attack: a hard link to a file outside the target, which a later entry (or the container)
// would then write through (node-tar CVE-2018-20834, containerd CVE-2021-32760 class).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { KapselError } from '../common/errors.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { buildTar, sandbox, streamOf, testOptions } from './layer-fixture.js';
import { unpackLayer } from './unpack.js';

const LAYER = `sha256:${'b'.repeat(64)}`;
const box = sandbox();
after(() => box.cleanup());

test('hard link to a path outside: refused in every spelling, the host file keeps one link', async () => {
  const before = box.snapshotHost();
  const victim = join(box.host, 'etc', 'passwd');
  const cases: Array<[string, RegExp]> = [
    [victim, /does not exist inside the root/], // absolute: read inside the root, where it is absent
    ['../host/etc/passwd', /hard link target `\.\.\/host\/etc\/passwd`: path escapes the root/],
    ['out/etc/passwd', /does not exist inside the root/], // `out -> <host>` below
  ];
  for (const [linkname, reason] of cases) {
    const tar = await buildTar([
      { header: { name: 'out', type: 'symlink', linkname: box.host } },
      { header: { name: 'etc/passwd', type: 'link', linkname } },
      { header: { name: 'etc/passwd' }, content: 'written through the link' },
    ]);
    await assert.rejects(unpackLayer(box.rootfs, streamOf(tar), testOptions(LAYER)), (err: unknown) => {
      assert.ok(err instanceof KapselError);
      assert.equal(err.code, 'ERR_IMAGE_LAYER_UNSAFE');
      assert.ok(err.message.startsWith(`layer ${LAYER}: entry \`etc/passwd\`: hard link target`), err.message);
      assert.match(err.message, reason);
      return true;
    });
  }
  assert.equal(box.snapshotHost(), before);
  assert.equal(statSync(victim).nlink, 1);
});

test('hard link inside the root works, and through an in-root symlink resolves inside', async () => {
  const tar = await buildTar([
    { header: { name: 'usr/bin/real' }, content: 'bin' },
    { header: { name: 'bin', type: 'symlink', linkname: '/usr/bin' } },
    { header: { name: 'sbin/alias', type: 'link', linkname: 'bin/real' } },
  ]);
  await unpackLayer(box.rootfs, streamOf(tar), testOptions());
  assert.equal(statSync(join(box.rootfs, 'sbin/alias')).ino, statSync(join(box.rootfs, 'usr/bin/real')).ino);
});
