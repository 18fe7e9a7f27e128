/**
 * Layer snapshots and overlay root filesystems against the real kernel: two containers share
 * one unpack of each layer, writes stay in a container's upper directory, whiteouts and opaque
 * directories of an upper layer hide lower files, and release leaves no mount and no upper dir.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import type { Syscalls } from '../sys/syscalls.js';
import { storeTestImage } from './image-fixture.js';
import { loadImage } from './image.js';
import { ContentStore } from './store.js';
import { chainIds, overlaySupported, prepareRootfs, pruneSnapshots, releaseRootfs } from './snapshots.js';
import { removeImages } from './image-manage.js';
import { KapselError } from '../common/errors.js';

const sys = linuxSyscalls();
const tmp = mkdtempSync(join(tmpdir(), 'kapsel-snapshots-test-'));
const mounted = (): string[] => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(tmp));
after(() => {
  for (const line of mounted().reverse()) {
    try { sys.umount2(line.split(' ')[4] as string, 2); } catch { /* already gone */ }
  }
  rmSync(tmp, { recursive: true, force: true });
});

const NAME = 'docker.io/library/snap:1';
const LAYERS = [
  [
    { header: { name: 'etc/', type: 'directory' as const } },
    { header: { name: 'etc/motd' }, content: 'lower motd\n' },
    { header: { name: 'etc/passwd' }, content: 'root:x:0:0::/root:/bin/sh\n' },
    { header: { name: 'var/cache/', type: 'directory' as const } },
    { header: { name: 'var/cache/a' }, content: 'a' },
    { header: { name: 'var/cache/b' }, content: 'b' },
  ],
  [
    { header: { name: 'etc/.wh.motd' } },
    { header: { name: 'var/cache/.wh..wh..opq' } },
    { header: { name: 'var/cache/new' }, content: 'new' },
  ],
  [{ header: { name: 'etc/hostname' }, content: 'top\n' }],
];

test('overlay: shared snapshots, private writes, whiteouts and opaque dirs, clean release', async () => {
  const store = await ContentStore.open({ root: join(tmp, 'store'), syscalls: sys });
  assert.equal(await overlaySupported(store, sys), true, 'overlayfs must work here (root, ext4 store)');
  await storeTestImage(store, NAME, LAYERS);
  const image = await loadImage(store, NAME);
  const c1 = join(store.root, 'containers', 'c1');
  const c2 = join(store.root, 'containers', 'c2');
  const p1 = await prepareRootfs(store, image, c1, sys);
  const p2 = await prepareRootfs(store, image, c2, sys);
  assert.deepEqual([p1.kind, p1.unpackedLayers, p2.kind, p2.unpackedLayers], ['overlay', 3, 'overlay', 0]);
  assert.equal(readdirSync(join(store.root, 'snapshots')).filter((n) => !n.startsWith('.')).length, 3);
  assert.equal(mounted().length, 2);
  // the merged view
  assert.equal(existsSync(join(p1.rootfs, 'etc', 'motd')), false, 'whiteout hides the lower file');
  assert.deepEqual(readdirSync(join(p1.rootfs, 'var', 'cache')), ['new'], 'opaque dir hides lower content');
  assert.equal(readFileSync(join(p1.rootfs, 'etc', 'hostname'), 'utf8'), 'top\n');
  assert.equal(readFileSync(join(p1.rootfs, 'etc', 'passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
  // writes are private to the container
  writeFileSync(join(p1.rootfs, 'etc', 'passwd'), 'changed\n');
  writeFileSync(join(p1.rootfs, 'only-c1'), 'x');
  assert.equal(existsSync(join(p2.rootfs, 'only-c1')), false);
  assert.equal(readFileSync(join(p2.rootfs, 'etc', 'passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
  const bottom = join(store.root, 'snapshots', image.config.rootfs.diff_ids[0]!.slice(7)); // chain id of the bottom layer
  assert.equal(readFileSync(join(bottom, 'etc', 'passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n', 'the snapshot is untouched');
  assert.equal(readFileSync(join(c1, 'upper', 'only-c1'), 'utf8'), 'x');
  // rmi refuses an image in use
  await assert.rejects(removeImages(store, [NAME]), (err: unknown) => err instanceof KapselError && err.code === 'ERR_IMAGE_IN_USE' && /c1/.test(err.message));
  // release
  releaseRootfs(c1, sys);
  releaseRootfs(c2, sys);
  assert.deepEqual(mounted(), []);
  assert.equal(existsSync(join(c1, 'upper')), false);
  rmSync(join(store.root, 'containers'), { recursive: true });
  // with the image gone, prune removes its snapshots
  await removeImages(store, [NAME]);
  const pruned = await pruneSnapshots(store);
  assert.equal(pruned.removed.length, 0, 'rmi already removed the snapshots');
  assert.deepEqual(readdirSync(join(store.root, 'snapshots')).filter((n) => !n.startsWith('.')), []);
  assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), []);
});

test('two containers prepared at the same time unpack each layer once', async () => {
  const store = await ContentStore.open({ root: join(tmp, 'store2'), syscalls: sys });
  await storeTestImage(store, NAME, LAYERS);
  const image = await loadImage(store, NAME);
  const dirs = ['p1', 'p2', 'p3'].map((n) => join(store.root, 'containers', n));
  const results = await Promise.all(dirs.map((d) => prepareRootfs(store, image, d, sys)));
  assert.equal(results.reduce((s, r) => s + r.unpackedLayers, 0), 3);
  for (const d of dirs) releaseRootfs(d, sys);
  assert.deepEqual(mounted(), []);
});

test('the copy fallback gives the same tree (whiteouts applied by deletion)', async () => {
  const store = await ContentStore.open({ root: join(tmp, 'store3'), syscalls: sys });
  await storeTestImage(store, NAME, LAYERS);
  const image = await loadImage(store, NAME);
  const c = join(store.root, 'containers', 'copy');
  const p = await prepareRootfs(store, image, c, sys, { kind: 'copy' });
  assert.equal(p.kind, 'copy');
  assert.equal(existsSync(join(p.rootfs, 'etc', 'motd')), false);
  assert.deepEqual(readdirSync(join(p.rootfs, 'var', 'cache')), ['new']);
  releaseRootfs(c, sys);
  assert.equal(existsSync(join(store.root, 'snapshots')), false);
});

/** What a path looks like in a root filesystem: type, mode, owner, content or link target. */
function describe(root: string, path: string): string {
  const abs = join(root, path);
  const st = lstatSync(abs, { throwIfNoEntry: false });
  if (st === undefined) return `${path}: missing`;
  const meta = `mode=${(st.mode & 0o7777).toString(8)} uid=${st.uid} gid=${st.gid}`;
  if (st.isSymbolicLink()) return `${path}: symlink -> ${readlinkSync(abs)}`;
  if (st.isDirectory()) return `${path}: dir ${meta} [${readdirSync(abs).sort().join(' ')}]`;
  return `${path}: file ${meta} ${JSON.stringify(readFileSync(abs, 'utf8'))}`;
}

/** The same image prepared as an overlay and as a copy: both trees, for the same paths. */
async function bothWays(storeName: string, layers: Parameters<typeof storeTestImage>[2], paths: readonly string[], check: (rootfs: string, kind: string) => void): Promise<string[][]> {
  const store = await ContentStore.open({ root: join(tmp, storeName), syscalls: sys });
  await storeTestImage(store, NAME, layers);
  const image = await loadImage(store, NAME);
  const trees: string[][] = [];
  for (const kind of ['overlay', 'copy'] as const) {
    const c = join(store.root, 'containers', kind);
    const p = await prepareRootfs(store, image, c, sys, { kind });
    try {
      assert.equal(p.kind, kind);
      trees.push(paths.map((path) => describe(p.rootfs, path)));
      check(p.rootfs, kind);
    } finally {
      releaseRootfs(c, sys);
    }
  }
  assert.deepEqual(mounted(), []);
  // overlay snapshots are named by chain id: the top one depends on the layers below it
  assert.deepEqual(readdirSync(join(store.root, 'snapshots')).filter((n) => !n.startsWith('.')).sort(), chainIds(image.config.rootfs.diff_ids).map((c) => c.slice(7)).sort());
  return trees;
}

test('a hard link to a file of a lower layer: the target is copied up, content, mode, owner and xattrs kept', async () => {
  const layers = [
    [
      { header: { name: 'usr/', type: 'directory' as const } },
      { header: { name: 'usr/bin/', type: 'directory' as const } },
      { header: { name: 'usr/bin/tool', mode: 0o4755, uid: 1000, gid: 1000, pax: { 'SCHILY.xattr.user.kapsel': 'lower' } }, content: 'tool v1\n' },
    ],
    [{ header: { name: 'usr/bin/alias', type: 'link' as const, linkname: 'usr/bin/tool' } }],
  ];
  const [overlay, copy] = await bothWays('store-link', layers, ['usr/bin', 'usr/bin/tool', 'usr/bin/alias'], (rootfs, kind) => {
    const alias = join(rootfs, 'usr', 'bin', 'alias');
    assert.equal(statSync(alias).ino, statSync(join(rootfs, 'usr', 'bin', 'tool')).ino, `${kind}: one inode, two names`);
    assert.equal(sys.lgetxattr(alias, 'user.kapsel').toString(), 'lower', `${kind}: xattr kept`);
  });
  assert.deepEqual(overlay, [
    'usr/bin: dir mode=755 uid=0 gid=0 [alias tool]',
    'usr/bin/tool: file mode=4755 uid=1000 gid=1000 "tool v1\\n"',
    'usr/bin/alias: file mode=4755 uid=1000 gid=1000 "tool v1\\n"',
  ]);
  assert.deepEqual(overlay, copy, 'the overlay and the copy give the same tree');
});

test('a parent symlink of a lower layer is followed (lib -> usr/lib, then lib/x.so), as in the merged tree', async () => {
  const layers = [
    [
      { header: { name: 'usr/', type: 'directory' as const } },
      { header: { name: 'usr/lib/', type: 'directory' as const, mode: 0o750, uid: 7, gid: 8 } },
      { header: { name: 'usr/lib/a.so' }, content: 'a' },
      { header: { name: 'lib', type: 'symlink' as const, linkname: 'usr/lib' } },
      { header: { name: 'lib64', type: 'symlink' as const, linkname: '/usr/lib' } },
    ],
    [
      { header: { name: 'lib/x.so' }, content: 'x' },
      { header: { name: 'lib64/y.so' }, content: 'y' },
      { header: { name: 'lib/a-link.so', type: 'link' as const, linkname: 'lib64/a.so' } },
    ],
  ];
  const paths = ['lib', 'lib64', 'usr/lib', 'usr/lib/x.so', 'usr/lib/y.so', 'usr/lib/a-link.so', 'usr/lib/a.so'];
  const [overlay, copy] = await bothWays('store-symlink', layers, paths, (rootfs) => {
    assert.equal(readFileSync(join(rootfs, 'lib', 'x.so'), 'utf8'), 'x');
  });
  assert.deepEqual(overlay, [
    'lib: symlink -> usr/lib',
    'lib64: symlink -> /usr/lib',
    'usr/lib: dir mode=750 uid=7 gid=8 [a-link.so a.so x.so y.so]',
    'usr/lib/x.so: file mode=644 uid=0 gid=0 "x"',
    'usr/lib/y.so: file mode=644 uid=0 gid=0 "y"',
    'usr/lib/a-link.so: file mode=644 uid=0 gid=0 "a"',
    'usr/lib/a.so: file mode=644 uid=0 gid=0 "a"',
  ]);
  assert.deepEqual(overlay, copy, 'the overlay and the copy give the same tree');
});

test('a hard link to a file a middle layer deleted fails as in the copy: the target does not exist', async () => {
  const store = await ContentStore.open({ root: join(tmp, 'store-whiteout-link'), syscalls: sys });
  await storeTestImage(store, NAME, [
    [{ header: { name: 'f' }, content: 'gone' }],
    [{ header: { name: '.wh.f' } }],
    [{ header: { name: 'g', type: 'link', linkname: 'f' } }],
  ]);
  const image = await loadImage(store, NAME);
  for (const kind of ['overlay', 'copy'] as const) {
    const c = join(store.root, 'containers', kind);
    await assert.rejects(prepareRootfs(store, image, c, sys, { kind }), /hard link target `f` does not exist inside the root/, kind);
    releaseRootfs(c, sys);
  }
  assert.deepEqual(mounted(), []);
});

test('a successful overlay probe is remembered per kernel release and filesystem; a stale mark is probed again', async () => {
  const mounts: string[] = [];
  // the real syscalls, with the probe's mounts counted
  const counting = new Proxy(sys, {
    get: (t, k: keyof Syscalls) => (k === 'fsopen' || k === 'mount' ? (...a: unknown[]) => { mounts.push(String(k)); return (t[k] as (...x: unknown[]) => unknown)(...a); } : t[k]),
  });
  const open = async (name: string): Promise<ContentStore> => {
    mkdirSync(join(tmp, name, 'snapshots'), { recursive: true });
    return ContentStore.open({ root: join(tmp, name), syscalls: sys });
  };
  const first = await open('probe-a');
  assert.equal(await overlaySupported(first, counting), true);
  assert.equal(mounts.length, 1, 'the first store is probed with a mount');
  const snaps = join(first.root, 'snapshots');
  const key = `${release()} ${statSync(snaps).dev}\n`;
  assert.equal(readFileSync(join(snaps, '.overlay-probe'), 'utf8'), key);
  assert.deepEqual(readdirSync(snaps).filter((n) => n.startsWith('.probe-')), [], 'the probe directory is removed');
  // another store (a new process sees the same: the per-process cache is per store root) with a valid mark
  const marked = await open('probe-b');
  writeFileSync(join(marked.root, 'snapshots', '.overlay-probe'), key, { flag: 'wx' });
  assert.equal(await overlaySupported(marked, counting), true);
  assert.equal(mounts.length, 1, 'a valid mark skips the probe mount');
  // a mark from another kernel is probed again and rewritten
  const stale = await open('probe-c');
  writeFileSync(join(stale.root, 'snapshots', '.overlay-probe'), `0.0.0-old ${statSync(snaps).dev}\n`, { flag: 'wx' });
  assert.equal(await overlaySupported(stale, counting), true);
  assert.equal(mounts.length, 2, 'a stale mark is probed again');
  assert.equal(readFileSync(join(stale.root, 'snapshots', '.overlay-probe'), 'utf8'), key);
  // prune keeps the mark
  await pruneSnapshots(stale);
  assert.equal(existsSync(join(stale.root, 'snapshots', '.overlay-probe')), true);
  assert.equal(mounted().length, 0);
});
