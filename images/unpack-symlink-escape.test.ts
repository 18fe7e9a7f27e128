// Attack: a symlink pointing out of the target, then a file written through it
// (`a -> /etc`, then `a/passwd`; node-tar CVE-2021-32804, docker CVE-2018-15664 class).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { buildTar, sandbox, streamOf, testOptions } from './layer-fixture.js';
import { unpackLayer } from './unpack.js';

const box = sandbox();
after(() => box.cleanup());
const hostEtc = (): string => join(box.host, 'etc');

test('symlink escape: `a -> <host>/etc` then `a/passwd` writes <root><host>/etc/passwd', async () => {
  const before = box.snapshotHost();
  await unpackLayer(box.rootfs, streamOf(await buildTar([
    { header: { name: 'a', type: 'symlink', linkname: hostEtc() } },
    { header: { name: 'a/passwd' }, content: 'pwned' },
  ])), testOptions());
  assert.equal(box.snapshotHost(), before);
  assert.equal(readlinkSync(join(box.rootfs, 'a')), hostEtc()); // kept verbatim
  assert.equal(readFileSync(join(box.rootfs, hostEtc(), 'passwd'), 'utf8'), 'pwned');
});

test('symlink escape: relative `../../..` targets stop at the root', async () => {
  const before = box.snapshotHost();
  const up = '../'.repeat(20);
  await unpackLayer(box.rootfs, streamOf(await buildTar([
    { header: { name: 'x/y', type: 'symlink', linkname: `${up}${box.host.slice(1)}/etc` } },
    { header: { name: 'x/y/passwd' }, content: 'pwned' },
    { header: { name: 'z', type: 'symlink', linkname: up } },
    { header: { name: 'z/escaped' }, content: 'pwned' },
  ])), testOptions());
  assert.equal(box.snapshotHost(), before);
  assert.equal(readFileSync(join(box.rootfs, hostEtc(), 'passwd'), 'utf8'), 'pwned');
  assert.equal(readFileSync(join(box.rootfs, 'escaped'), 'utf8'), 'pwned');
});

test('symlink escape: chains of symlinks and a symlink loop', async () => {
  const before = box.snapshotHost();
  await unpackLayer(box.rootfs, streamOf(await buildTar([
    { header: { name: 'l1', type: 'symlink', linkname: 'l2' } },
    { header: { name: 'l2', type: 'symlink', linkname: `${box.host}` } },
    { header: { name: 'l1/etc/passwd' }, content: 'pwned' },
  ])), testOptions());
  assert.equal(box.snapshotHost(), before);
  await assert.rejects(unpackLayer(box.rootfs, streamOf(await buildTar([
    { header: { name: 'loop', type: 'symlink', linkname: 'loop' } },
    { header: { name: 'loop/f' }, content: 'x' },
  ])), testOptions('sha256:loop')), /^LayerEntryError: layer sha256:loop: entry `loop\/f`: too many levels of symbolic links$/);
});
