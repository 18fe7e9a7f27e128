import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { BUSYBOX_IMAGE_NAME, buildBusyboxImage, ensureBusyboxImage, isStaticElf } from './busybox-image.js';
import { loadImage, unpackImage } from './image.js';
import { readImageUserDb } from './rootfs-files.js';
import { ContentStore } from './store.js';
import { imageToSpec } from './to-bundle.js';

const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const skip = busybox === undefined || !isStaticElf(readFileSync(busybox)) ? 'needs busybox-static on the host' : false;
const tmp = mkdtempSync(join(tmpdir(), 'kapsel-busybox-image-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the busybox image round-trips: build → resolve → unpack → bin/busybox runs', { skip }, async () => {
  const store = await ContentStore.open({ root: join(tmp, 'store'), syscalls: linuxSyscalls() });
  const built = await buildBusyboxImage(store);
  assert.equal(BUSYBOX_IMAGE_NAME, 'docker.io/library/busybox:latest');
  assert.deepEqual(await store.resolve(BUSYBOX_IMAGE_NAME), { ...built, annotations: { 'org.opencontainers.image.ref.name': BUSYBOX_IMAGE_NAME } });

  const image = await loadImage(store, BUSYBOX_IMAGE_NAME);
  assert.equal(image.manifest.layers.length, 1);
  assert.equal(image.manifest.layers[0]?.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  assert.deepEqual(image.config.config?.Cmd, ['sh']);

  const rootfs = join(tmp, 'rootfs');
  mkdirSync(rootfs);
  const [result] = await unpackImage(store, image, rootfs, { syscalls: linuxSyscalls() });
  assert.equal(result?.diffId, image.config.rootfs.diff_ids[0]);

  const run = spawnSync(join(rootfs, 'bin/busybox'), ['echo', 'ok'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'ok\n');
  // applets are relative symlinks that work through argv[0]
  assert.equal(readlinkSync(join(rootfs, 'bin/sh')), 'busybox');
  assert.equal(readlinkSync(join(rootfs, 'usr/bin/env')), '../../bin/busybox');
  const viaApplet = spawnSync(join(rootfs, 'usr/bin/env'), ['-i', 'X=1'], { encoding: 'utf8' });
  assert.equal(viaApplet.stdout, 'X=1\n');
  assert.equal(statSync(join(rootfs, 'tmp')).mode & 0o7777, 0o1777);
  assert.equal(statSync(join(rootfs, 'root')).mode & 0o7777, 0o700);
  assert.ok(lstatSync(join(rootfs, 'proc')).isDirectory());

  // and the config becomes a runnable spec with the image's own users
  const spec = imageToSpec(image.config, { image: BUSYBOX_IMAGE_NAME, ...readImageUserDb(rootfs), args: ['echo', 'hello'], user: 'nobody' });
  assert.deepEqual(spec.process?.args, ['echo', 'hello']);
  assert.deepEqual(spec.process?.user, { uid: 65534, gid: 65534 });
});

test('the build is reproducible and ensureBusyboxImage reuses what is stored', { skip }, async () => {
  const a = await ContentStore.open({ root: join(tmp, 'a'), syscalls: linuxSyscalls() });
  const b = await ContentStore.open({ root: join(tmp, 'b'), syscalls: linuxSyscalls() });
  const first = await ensureBusyboxImage(a);
  const second = await buildBusyboxImage(b);
  assert.equal(first.digest, second.digest);
  const again = await ensureBusyboxImage(a);
  assert.equal(again.digest, first.digest);
});

test('a dynamically linked or missing busybox is refused with a hint', async () => {
  const store = await ContentStore.open({ root: join(tmp, 'c'), syscalls: linuxSyscalls() });
  await assert.rejects(buildBusyboxImage(store, { busybox: process.execPath }), (err: unknown) => {
    assert.ok(err instanceof KapselError);
    assert.equal(err.code, 'ERR_IMAGE_BUSYBOX');
    assert.match(err.message, /is not a statically linked executable/);
    assert.match(err.hint ?? '', /busybox-static/);
    return true;
  });
  await assert.rejects(buildBusyboxImage(store, { busybox: join(tmp, 'absent') }), /no busybox binary/);
  assert.equal(isStaticElf(readFileSync(process.execPath)), false);
  assert.equal(isStaticElf(Buffer.from('#!/bin/sh\n')), false);
});
