import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { zstdCompress } from '../sys/libzstd.js';
import { buildTar, gzip, joinTars, paxRecord, rawPaxHeader, sandbox, streamOf, testOptions, type FixtureEntry } from './layer-fixture.js';
import { MEDIA_TYPE } from './oci-types.js';
import { detectCompression } from './compression.js';
import { unpackLayer, unpackLayers } from './unpack.js';
import { makedev } from './unpack-entry.js';

const boxes: Array<{ cleanup(): void }> = [];
after(() => boxes.forEach((b) => b.cleanup()));
const box = (): ReturnType<typeof sandbox> => {
  const b = sandbox();
  boxes.push(b);
  return b;
};
const isRoot = process.geteuid?.() === 0;

const basic: FixtureEntry[] = [
  { header: { name: 'etc/', type: 'directory' } },
  { header: { name: 'etc/hostname' }, content: 'kapsel\n' },
  { header: { name: 'bin/sh', mode: 0o4755 }, content: '#!binary' },
  { header: { name: 'bin/ash', type: 'link', linkname: 'bin/sh' } },
  { header: { name: 'bin/dash', type: 'symlink', linkname: '/bin/sh' } },
  { header: { name: 'usr/lib/deep/file' }, content: 'implicit parents' },
];

test('tar, tar+gzip and tar+zstd layers unpack alike; the format comes from the magic bytes', async () => {
  const tar = await buildTar(basic);
  const sha = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const variants: Array<[string, Buffer, string]> = [
    ['none', tar, MEDIA_TYPE.ociLayer],
    ['gzip', gzip(tar), MEDIA_TYPE.ociLayerGzip],
    ['zstd', zstdCompress(tar), MEDIA_TYPE.ociLayerZstd],
    // mislabelled: the bytes win
    ['gzip', gzip(tar), MEDIA_TYPE.ociLayer],
  ];
  for (const [compression, blob, mediaType] of variants) {
    const b = box();
    assert.equal(detectCompression(blob), compression);
    const result = await unpackLayer(b.rootfs, streamOf(blob), { ...testOptions(), mediaType, diffId: sha });
    assert.equal(result.compression, compression);
    assert.equal(result.diffId, sha);
    assert.equal(result.entries, basic.length);
    assert.equal(result.tarBytes, tar.length);
    assert.equal(readFileSync(join(b.rootfs, 'etc/hostname'), 'utf8'), 'kapsel\n');
    assert.equal(readFileSync(join(b.rootfs, 'usr/lib/deep/file'), 'utf8'), 'implicit parents');
  }
});

test('modes (setuid kept), hard links share an inode, symlinks are kept verbatim', async () => {
  const b = box();
  await unpackLayer(b.rootfs, streamOf(await buildTar(basic)), testOptions());
  const sh = statSync(join(b.rootfs, 'bin/sh'));
  assert.equal(sh.mode & 0o7777, 0o4755);
  assert.equal(statSync(join(b.rootfs, 'bin/ash')).ino, sh.ino);
  assert.equal(sh.nlink, 2);
  assert.equal(readlinkSync(join(b.rootfs, 'bin/dash')), '/bin/sh');
});

test('mtimes of files, symlinks and directories (after their children) are applied', async () => {
  const b = box();
  const t = new Date(1_500_000_000_000);
  await unpackLayer(b.rootfs, streamOf(await buildTar([
    { header: { name: 'd/', type: 'directory', mtime: t, mode: 0o555 } },
    { header: { name: 'd/f', mtime: t }, content: 'x' },
    { header: { name: 'd/l', type: 'symlink', linkname: 'f', mtime: t } },
  ])), testOptions());
  for (const p of ['d', 'd/f']) assert.equal(statSync(join(b.rootfs, p)).mtimeMs, t.getTime(), p);
  assert.equal(lstatSync(join(b.rootfs, 'd/l')).mtimeMs, t.getTime());
  assert.equal(statSync(join(b.rootfs, 'd')).mode & 0o7777, 0o555);
});

test('ownership is applied when running as root', { skip: !isRoot && 'needs root' }, async () => {
  const b = box();
  await unpackLayer(b.rootfs, streamOf(await buildTar([
    { header: { name: 'home/u/', type: 'directory', uid: 1000, gid: 1000 } },
    { header: { name: 'home/u/f', uid: 1234, gid: 5678, mode: 0o2755 }, content: 'x' },
    { header: { name: 'home/u/l', type: 'symlink', linkname: 'f', uid: 42, gid: 43 } },
  ])), testOptions());
  const f = statSync(join(b.rootfs, 'home/u/f'));
  assert.deepEqual([f.uid, f.gid, f.mode & 0o7777], [1234, 5678, 0o2755]);
  const l = lstatSync(join(b.rootfs, 'home/u/l'));
  assert.deepEqual([l.uid, l.gid], [42, 43]);
  assert.equal(statSync(join(b.rootfs, 'home/u')).uid, 1000);
});

test('fifos and device nodes (device nodes skipped with a note without CAP_MKNOD)', async () => {
  const b = box();
  const result = await unpackLayer(b.rootfs, streamOf(await buildTar([
    { header: { name: 'run/ctl', type: 'fifo', mode: 0o620 } },
    { header: { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 } },
    { header: { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660 } },
  ])), testOptions());
  const fifo = lstatSync(join(b.rootfs, 'run/ctl'));
  assert.ok(fifo.isFIFO());
  assert.equal(fifo.mode & 0o777, 0o620);
  const nul = lstatSync(join(b.rootfs, 'dev/null'), { throwIfNoEntry: false });
  if (nul === undefined) {
    assert.match(result.notes.join('\n'), /entry `dev\/null`: device node skipped/);
  } else {
    assert.ok(nul.isCharacterDevice());
    assert.equal(nul.rdev, makedev(1, 3));
    assert.ok(lstatSync(join(b.rootfs, 'dev/loop9')).isBlockDevice());
    assert.equal(lstatSync(join(b.rootfs, 'dev/loop9')).rdev, makedev(7, 9));
  }
});

test('makedev follows glibc for large majors and minors', () => {
  assert.equal(makedev(1, 3), 0x103);
  assert.equal(makedev(0x123, 0x45678), 0x45612378);
  assert.equal(makedev(0x1234, 0), 2 ** 44 + 0x23400);
});

test('whiteouts remove lower entries; opaque directories hide lower content only', async () => {
  const b = box();
  const lower = await buildTar([
    { header: { name: 'a/b' }, content: 'b' },
    { header: { name: 'a/c' }, content: 'c' },
    { header: { name: 'a/dir/x' }, content: 'x' },
    { header: { name: 'o/old' }, content: 'old' },
    { header: { name: 'o/kept/lower' }, content: 'lower' },
  ]);
  const upper = await buildTar([
    { header: { name: 'a/.wh.b' } },
    { header: { name: 'a/.wh.dir' } },
    { header: { name: 'o/kept/new' }, content: 'new' }, // written before the opaque marker
    { header: { name: 'o/.wh..wh..opq' } },
    { header: { name: 'o/fresh' }, content: 'fresh' },
    { header: { name: 'a/.wh.missing' } },
    { header: { name: 'gone/.wh.x' } },
    { header: { name: '.wh..wh.plnk/123' }, content: '' },
  ]);
  const [l1, l2] = await unpackLayers(b.rootfs, [
    { digest: 'sha256:lower', open: () => streamOf(lower) },
    { digest: 'sha256:upper', open: () => streamOf(gzip(upper)) },
  ], testOptions());
  assert.equal(l1?.entries, 5);
  assert.equal(l2?.compression, 'gzip');
  assert.deepEqual(readdirSync(join(b.rootfs, 'a')), ['c']);
  assert.deepEqual(readdirSync(join(b.rootfs, 'o')).sort(), ['fresh', 'kept']);
  assert.deepEqual(readdirSync(join(b.rootfs, 'o/kept')), ['new']);
  assert.equal(existsSync(join(b.rootfs, 'gone')), false);
});

test('a whiteout does not hide an entry of its own layer', async () => {
  const b = box();
  await unpackLayer(b.rootfs, streamOf(await buildTar([
    { header: { name: 'x' }, content: 'same layer' },
    { header: { name: '.wh.x' } },
  ])), testOptions());
  assert.equal(readFileSync(join(b.rootfs, 'x'), 'utf8'), 'same layer');
});

test('xattrs from SCHILY and LIBARCHIVE records reach the writer byte for byte', async () => {
  const b = box();
  const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0xfe, 0x80, 0x00]);
  const longName = `${'long/'.repeat(30)}file`;
  const tar = joinTars([
    await buildTar([{ header: { name: longName, pax: { 'SCHILY.xattr.user.a': '1' } }, content: 'long' }]),
    rawPaxHeader([paxRecord('SCHILY.xattr.security.capability', capability), paxRecord('SCHILY.xattr.user.note', Buffer.from('a=b\nc'))]),
    await buildTar([
      { header: { name: 'bin/ping', mode: 0o755 }, content: 'ping' },
      { header: { name: 'bsd', pax: { 'LIBARCHIVE.xattr.user.%41b': Buffer.from([0, 1, 2, 255]).toString('base64') } }, content: '' },
      { header: { name: 'plain' }, content: '' },
    ]),
  ]);
  const opts = testOptions();
  const result = await unpackLayer(b.rootfs, streamOf(tar), opts);
  const got = opts.xattrLog.map(([p, n, v]) => [p.slice(b.rootfs.length + 1), n, v.toString('hex')]);
  assert.deepEqual(got, [
    [longName, 'user.a', Buffer.from('1').toString('hex')],
    ['bin/ping', 'security.capability', capability.toString('hex')],
    ['bin/ping', 'user.note', Buffer.from('a=b\nc').toString('hex')],
    ['bsd', 'user.Ab', '000102ff'],
  ]);
  assert.deepEqual(result.notes, []);
});

test('without an xattr writer, xattrs are skipped with one note; refused security.* xattrs are notes too', async () => {
  const b = box();
  const tar = await buildTar([
    { header: { name: 'f', pax: { 'SCHILY.xattr.security.selinux': 'system_u:object_r:bin_t:s0', 'SCHILY.xattr.user.x': 'y' } }, content: '' },
  ]);
  const { xattrs: _x, ...noWriter } = testOptions();
  const r1 = await unpackLayer(b.rootfs, streamOf(tar), noWriter);
  assert.deepEqual(r1.notes, [
    `layer sha256:${'e'.repeat(64)}: entry \`f\`: xattr security.selinux skipped: no xattr writer (lsetxattr) was given`,
    `layer sha256:${'e'.repeat(64)}: 2 xattrs skipped in all: no xattr writer (lsetxattr) was given`,
  ]);
  const refusing = {
    ...testOptions(),
    xattrs: {
      lsetxattr: (_p: string, name: string): void => {
        if (name.startsWith('security.')) throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
      },
    },
  };
  const r2 = await unpackLayer(box().rootfs, streamOf(tar), refusing);
  assert.equal(r2.notes.length, 1);
  assert.match(r2.notes[0] ?? '', /entry `f`: xattr security\.selinux skipped: EPERM/);
});

test('a diff_id mismatch, a corrupt stream and a non-layer media type are errors naming the layer', async () => {
  const tar = await buildTar(basic);
  await assert.rejects(unpackLayer(box().rootfs, streamOf(tar), { ...testOptions('sha256:l1'), diffId: `sha256:${'0'.repeat(64)}` }), (err: unknown) => {
    assert.ok(err instanceof KapselError);
    assert.equal(err.code, 'ERR_IMAGE_DIGEST_MISMATCH');
    assert.match(err.message, /^layer sha256:l1: uncompressed content has digest sha256:[0-9a-f]{64}, the image config says sha256:0{64}$/);
    return true;
  });
  const truncated = gzip(tar).subarray(0, 200);
  await assert.rejects(unpackLayer(box().rootfs, streamOf(truncated), testOptions('sha256:l2')), /^KapselError: layer sha256:l2: /);
  await assert.rejects(unpackLayer(box().rootfs, streamOf(zstdCompress(tar).subarray(0, 50)), testOptions('sha256:l3')), /layer sha256:l3: .*zstd/);
  await assert.rejects(unpackLayer(box().rootfs, streamOf(tar), { ...testOptions('sha256:l4'), mediaType: 'application/vnd.oci.image.layer.v1.tar+encrypted' }), (err: unknown) => {
    assert.ok(err instanceof KapselError);
    assert.equal(err.code, 'ERR_IMAGE_UNSUPPORTED');
    return true;
  });
});

test('a stream of one-byte chunks is detected and unpacked the same', async () => {
  const b = box();
  const blob = gzip(await buildTar(basic));
  const { Readable } = await import('node:stream');
  const result = await unpackLayer(b.rootfs, Readable.from([...blob].map((x) => Buffer.from([x]))), testOptions());
  assert.equal(result.compression, 'gzip');
  assert.equal(readFileSync(join(b.rootfs, 'etc/hostname'), 'utf8'), 'kapsel\n');
});
