/**
 * Device nodes and fifos of a layer, through the real mknodat(2) as root: a character device, a
 * block device and a fifo arrive with their type, device number, owner, mode (setgid included)
 * and mtime, as `tar -p --numeric-owner` would restore them.
 */
import assert from 'node:assert/strict';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { buildTar, sandbox, streamOf } from './layer-fixture.js';
import { makedev } from './unpack-entry.js';
import { unpackLayer } from './unpack.js';

const sys = linuxSyscalls();
const boxes: Array<ReturnType<typeof sandbox>> = [];
after(() => {
  for (const b of boxes) b.cleanup();
});

const MTIME = new Date(1_600_000_123_000);

test('a character device, a block device and a fifo keep type, rdev, owner, mode and mtime', async () => {
  const b = sandbox();
  boxes.push(b);
  const tar = await buildTar([
    { header: { name: 'dev/', type: 'directory', mtime: MTIME } },
    { header: { name: 'dev/ttyS7', type: 'character-device', devmajor: 4, devminor: 71, mode: 0o620, uid: 0, gid: 5, mtime: MTIME } },
    { header: { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660, uid: 0, gid: 6, mtime: MTIME } },
    { header: { name: 'run/ctl.fifo', type: 'fifo', mode: 0o2640, uid: 1234, gid: 5678, mtime: MTIME } },
  ]);
  const result = await unpackLayer(b.rootfs, streamOf(tar), { syscalls: sys, xattrs: sys, layer: 'special' });
  assert.deepEqual(result.notes, [], 'nothing skipped as root');

  const tty = lstatSync(join(b.rootfs, 'dev/ttyS7'));
  assert.ok(tty.isCharacterDevice());
  assert.deepEqual([tty.rdev, tty.uid, tty.gid, tty.mode & 0o7777, tty.mtimeMs], [makedev(4, 71), 0, 5, 0o620, MTIME.getTime()]);

  const loop = lstatSync(join(b.rootfs, 'dev/loop9'));
  assert.ok(loop.isBlockDevice());
  assert.deepEqual([loop.rdev, loop.uid, loop.gid, loop.mode & 0o7777, loop.mtimeMs], [makedev(7, 9), 0, 6, 0o660, MTIME.getTime()]);

  const fifo = lstatSync(join(b.rootfs, 'run/ctl.fifo'));
  assert.ok(fifo.isFIFO());
  assert.deepEqual([fifo.uid, fifo.gid, fifo.mode & 0o7777, fifo.mtimeMs], [1234, 5678, 0o2640, MTIME.getTime()]);

  assert.equal(lstatSync(join(b.rootfs, 'dev')).mtimeMs, MTIME.getTime(), 'the directory time is set after its entries');
});
