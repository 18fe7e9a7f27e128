// Attack: an absolute entry name (`/etc/passwd`) aimed at the host (node-tar CVE-2021-32803 class).
// Like GNU tar and containerd, kapsel reads it relative to the target.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTar, sandbox, streamOf, testOptions } from './layer-fixture.js';
import { unpackLayer } from './unpack.js';

const box = sandbox();
after(() => box.cleanup());

test('absolute paths: `/<host>/etc/passwd` is written under the target, never to the host', async () => {
  const before = box.snapshotHost();
  const victim = join(box.host, 'etc', 'passwd'); // absolute, and it exists on the "host"
  const tar = await buildTar([
    { header: { name: victim }, content: 'pwned' },
    { header: { name: `//${box.host}//etc/shadow` }, content: 'pwned' },
    { header: { name: join(box.host, 'link'), type: 'symlink', linkname: '/' } },
  ]);
  await unpackLayer(box.rootfs, streamOf(tar), testOptions());
  assert.equal(box.snapshotHost(), before);
  assert.equal(readFileSync(join(box.rootfs, victim), 'utf8'), 'pwned');
  assert.equal(readFileSync(join(box.rootfs, box.host, 'etc', 'shadow'), 'utf8'), 'pwned');
});
