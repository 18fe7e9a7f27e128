/**
 * xattrs of a layer arrive on disk through the real lsetxattr(2): a file capability
 * (security.capability, a struct vfs_cap_data as BuildKit writes it for `setcap cap_net_raw+ep`)
 * and a user.* attribute; overlay metadata in a layer is refused.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { buildTar, joinTars, paxRecord, rawPaxHeader, sandbox, streamOf } from './layer-fixture.js';
import { unpackLayer } from './unpack.js';
import { join } from 'node:path';
import { isErrno } from '../sys/syscall-error.js';

const sys = linuxSyscalls();
const boxes: Array<ReturnType<typeof sandbox>> = [];
after(() => {
  for (const b of boxes) b.cleanup();
});

// VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, permitted = CAP_NET_RAW (bit 13), inheritable 0, second word 0
const CAP_NET_RAW_EP = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);

test('a file capability and a user xattr in a layer are set on the unpacked file; trusted.overlay.* is refused', async () => {
  const b = sandbox();
  boxes.push(b);
  const tar = joinTars([
    rawPaxHeader([
      paxRecord('SCHILY.xattr.security.capability', CAP_NET_RAW_EP),
      paxRecord('SCHILY.xattr.user.kapsel-note', Buffer.from([0, 1, 2, 0xff])),
      paxRecord('SCHILY.xattr.trusted.overlay.redirect', Buffer.from('/etc')),
    ]),
    await buildTar([{ header: { name: 'bin/ping', mode: 0o755, uid: 0, gid: 0 }, content: 'ping' }]),
  ]);
  const result = await unpackLayer(b.rootfs, streamOf(tar), { syscalls: sys, xattrs: sys, layer: 'caps' });
  const file = join(b.rootfs, 'bin', 'ping');
  assert.deepEqual(sys.lgetxattr(file, 'security.capability'), CAP_NET_RAW_EP);
  assert.deepEqual(sys.lgetxattr(file, 'user.kapsel-note'), Buffer.from([0, 1, 2, 0xff]));
  assert.throws(() => sys.lgetxattr(file, 'trusted.overlay.redirect'), (err: unknown) => isErrno(err, 'ENODATA'));
  assert.ok(sys.llistxattr(file).includes('security.capability'));
  assert.deepEqual(result.notes, ['layer caps: entry `bin/ping`: xattr trusted.overlay.redirect refused: overlay metadata cannot come from a layer']);
});

test('overlay whiteouts: .wh.NAME becomes a 0/0 character device, .wh..wh..opq the opaque xattr', async () => {
  const b = sandbox();
  boxes.push(b);
  const tar = await buildTar([
    { header: { name: 'etc/', type: 'directory' } },
    { header: { name: 'etc/.wh.motd' } },
    { header: { name: 'var/', type: 'directory' } },
    { header: { name: 'var/.wh..wh..opq' } },
    { header: { name: 'var/keep' }, content: 'k' },
  ]);
  await unpackLayer(b.rootfs, streamOf(tar), { syscalls: sys, xattrs: sys, whiteouts: 'overlay' });
  const { lstatSync, readFileSync } = await import('node:fs');
  const st = lstatSync(join(b.rootfs, 'etc', 'motd'));
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, 0);
  assert.deepEqual(sys.lgetxattr(join(b.rootfs, 'var'), 'trusted.overlay.opaque'), Buffer.from('y'));
  assert.equal(readFileSync(join(b.rootfs, 'var', 'keep'), 'utf8'), 'k');
});
