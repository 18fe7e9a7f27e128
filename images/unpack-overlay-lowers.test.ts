// A layer unpacked alone for overlay, with the snapshots below it (unpack.ts `lowers`): entry
// paths resolve against the merged tree, a hard link to a lower file copies it up, and nothing
// of a lower layer leads outside the root (a lower symlink is resolved inside the root; the
// lookup never follows a symlink of a lower layer on the way to a path).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { SyscallError } from '../sys/syscall-error.js';
import { buildTar, sandbox, streamOf, testOptions, type FixtureEntry } from './layer-fixture.js';
import type { XattrReader } from './overlay-lowers.js';
import { unpackLayer } from './unpack.js';

const ENODATA = 61;
const box = sandbox();
after(() => box.cleanup());

/** lgetxattr/llistxattr as overlayfs metadata would read: `opaque` directories carry trusted.overlay.opaque=y. */
function xattrReader(opaque: readonly string[] = []): XattrReader {
  return {
    lgetxattr: (path, name) => {
      if (name === 'trusted.overlay.opaque' && opaque.includes(path)) return Buffer.from('y');
      throw new SyscallError('lgetxattr', ENODATA, undefined, path);
    },
    llistxattr: () => [],
  };
}

let count = 0;
/** Unpacks each layer into a directory of its own, the lower ones plainly; returns the directories. */
async function layers(lowers: readonly (readonly FixtureEntry[])[]): Promise<string[]> {
  const dirs: string[] = [];
  for (const entries of lowers) {
    const dir = join(box.dir, `layer-${count++}`);
    mkdirSync(dir);
    await unpackLayer(dir, streamOf(await buildTar(entries)), testOptions());
    dirs.push(dir);
  }
  return dirs;
}

async function unpackTop(lowers: readonly string[], entries: readonly FixtureEntry[], opaque: readonly string[] = []): Promise<string> {
  const top = join(box.dir, `layer-${count++}`);
  mkdirSync(top);
  await unpackLayer(top, streamOf(await buildTar(entries)), { ...testOptions(), whiteouts: 'overlay', lowers: { dirs: lowers, xattrs: xattrReader(opaque) } });
  return top;
}

test('an entry below a lower symlink lands where it points; the lower directory is copied up with its mode', async () => {
  const lowers = await layers([[
    { header: { name: 'usr/lib/', type: 'directory', mode: 0o750 } },
    { header: { name: 'usr/lib/a.so' }, content: 'a' },
    { header: { name: 'lib', type: 'symlink', linkname: 'usr/lib' } },
  ]]);
  const top = await unpackTop(lowers, [{ header: { name: 'lib/x.so' }, content: 'x' }]);
  assert.deepEqual(readdirSync(top), ['usr']);
  assert.deepEqual(readdirSync(join(top, 'usr', 'lib')), ['x.so'], 'only this layer\'s file: a.so stays below');
  assert.equal(readFileSync(join(top, 'usr', 'lib', 'x.so'), 'utf8'), 'x');
  assert.equal(statSync(join(top, 'usr', 'lib')).mode & 0o7777, 0o750);
});

test('a hard link to a lower file: the file is copied up and linked; the lower file is untouched', async () => {
  const lowers = await layers([[{ header: { name: 'bin/tool', mode: 0o755 }, content: 'tool' }]]);
  const top = await unpackTop(lowers, [{ header: { name: 'bin/alias', type: 'link', linkname: 'bin/tool' } }]);
  assert.equal(readFileSync(join(top, 'bin', 'alias'), 'utf8'), 'tool');
  assert.equal(statSync(join(top, 'bin', 'alias')).ino, statSync(join(top, 'bin', 'tool')).ino);
  assert.equal(statSync(join(top, 'bin', 'tool')).mode & 0o7777, 0o755);
  assert.equal(statSync(join(lowers[0]!, 'bin', 'tool')).nlink, 1);
});

test('the upper-most lower layer wins, and an opaque directory hides the layers below it', async () => {
  const lowers = await layers([
    [{ header: { name: 'd/old' }, content: 'hidden' }, { header: { name: 'f' }, content: 'v1' }],
    [{ header: { name: 'd/', type: 'directory' } }, { header: { name: 'f' }, content: 'v2' }],
  ]);
  const top = await unpackTop(lowers, [{ header: { name: 'g', type: 'link', linkname: 'f' } }], [join(lowers[1]!, 'd')]);
  assert.equal(readFileSync(join(top, 'g'), 'utf8'), 'v2');
  await assert.rejects(unpackTop(lowers, [{ header: { name: 'x', type: 'link', linkname: 'd/old' } }], [join(lowers[1]!, 'd')]), /hard link target `d\/old` does not exist inside the root/);
  // without the opaque marking the same link finds it
  const open = await unpackTop(lowers, [{ header: { name: 'x', type: 'link', linkname: 'd/old' } }]);
  assert.equal(readFileSync(join(open, 'x'), 'utf8'), 'hidden');
});

test('a lower symlink to a host path is resolved inside the root, never followed out', async () => {
  const before = box.snapshotHost();
  const lowers = await layers([[{ header: { name: 'out', type: 'symlink', linkname: box.host } }]]);
  const top = await unpackTop(lowers, [{ header: { name: 'out/etc/new' }, content: 'inside' }]);
  assert.equal(readFileSync(join(top, ...box.host.split('/').filter(Boolean), 'etc', 'new'), 'utf8'), 'inside');
  await assert.rejects(unpackTop(lowers, [{ header: { name: 'p', type: 'link', linkname: 'out/etc/passwd' } }]), (err: unknown) => {
    assert.ok(err instanceof KapselError);
    assert.equal(err.code, 'ERR_IMAGE_LAYER_UNSAFE');
    assert.match(err.message, /hard link target `out\/etc\/passwd` does not exist inside the root/);
    return true;
  });
  assert.equal(box.snapshotHost(), before);
});

test('the lookup does not follow a symlink of a lower layer that a directory above it replaced', async () => {
  const before = box.snapshotHost();
  // layer 0: a -> <host>/etc (as a path on the host it would reach the host's passwd); layer 1: a/ is a directory
  const lowers = await layers([
    [{ header: { name: 'a', type: 'symlink', linkname: join(box.host, 'etc') } }],
    [{ header: { name: 'a/', type: 'directory' } }],
  ]);
  await assert.rejects(unpackTop(lowers, [{ header: { name: 'p', type: 'link', linkname: 'a/passwd' } }]), /hard link target `a\/passwd` does not exist inside the root/);
  assert.equal(box.snapshotHost(), before);
  assert.equal(statSync(join(box.host, 'etc', 'passwd')).nlink, 1);
});

test('lower layers are refused outside overlay mode', async () => {
  const dir = join(box.dir, 'apply');
  mkdirSync(dir);
  await assert.rejects(
    unpackLayer(dir, streamOf(await buildTar([{ header: { name: 'f' }, content: 'x' }])), { ...testOptions(), lowers: { dirs: [], xattrs: xattrReader() } }),
    /lower layers are for unpacking for overlay only/,
  );
  assert.equal(existsSync(join(dir, 'f')), false);
  assert.equal(lstatSync(dir).isDirectory(), true);
});
