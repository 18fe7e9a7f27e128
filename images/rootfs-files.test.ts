import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileInRoot, readImageUserDb } from './rootfs-files.js';

const dir = mkdtempSync(join(tmpdir(), 'kapsel-rootfs-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the image\'s passwd and group are read from the rootfs', () => {
  const rootfs = join(dir, 'plain');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:7:8::/app:/bin/sh\n');
  const db = readImageUserDb(rootfs);
  assert.deepEqual(db.passwd?.map((p) => p.name), ['root', 'app']);
  assert.equal(db.group, undefined);
});

test('symlinks in the image resolve inside the rootfs, never to the host', () => {
  const host = join(dir, 'host');
  mkdirSync(host);
  writeFileSync(join(host, 'passwd'), 'hostuser:x:1:1::/:/bin/sh\n');
  const rootfs = join(dir, 'linked');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  mkdirSync(join(rootfs, 'real'), { recursive: true });
  writeFileSync(join(rootfs, 'real/group'), 'imagegroup:x:5:\n');
  // absolute link to a host path: inside the rootfs that path does not exist
  symlinkSync(join(host, 'passwd'), join(rootfs, 'etc/passwd'));
  // relative link climbing out: `..` stops at the root, so it lands on <rootfs>/real/group
  symlinkSync('../../../../../../real/group', join(rootfs, 'etc/group'));
  const db = readImageUserDb(rootfs);
  assert.equal(db.passwd, undefined);
  assert.deepEqual(db.group?.map((g) => g.name), ['imagegroup']);
  symlinkSync(host, join(rootfs, 'hostdir'));
  assert.equal(readFileInRoot(rootfs, '/hostdir/passwd'), undefined);
  symlinkSync('loop', join(rootfs, 'loop'));
  assert.throws(() => readFileInRoot(rootfs, '/loop'), /too many levels of symbolic links/);
  assert.equal(readFileInRoot(rootfs, '/etc'), undefined); // a directory
});
