/**
 * Interoperability of kapsel save/load with skopeo (containers/image) and umoci: archives kapsel
 * writes are read by them, and archives they write are loaded by kapsel, in both formats.
 * skopeo and umoci are Debian packages in .ci/run's list.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { loadArchive } from './archive-load.js';
import { saveArchive } from './archive-save.js';
import { SIMPLE_LAYERS, storeTestImage } from './image-fixture.js';
import { loadImage } from './image.js';
import { ContentStore } from './store.js';

const tmp = mkdtempSync(join(tmpdir(), 'kapsel-skopeo-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const openStore = (): Promise<ContentStore> => ContentStore.open({ root: join(tmp, `s${n++}`), syscalls: linuxSyscalls() });
const NAME = 'docker.io/library/fixture:1';
const skopeo = (...args: string[]): string => execFileSync('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

async function original(): Promise<{ store: ContentStore; id: string; diffIds: string[] }> {
  const store = await openStore();
  await storeTestImage(store, NAME, SIMPLE_LAYERS);
  const image = await loadImage(store, NAME);
  return { store, id: image.manifest.config.digest, diffIds: image.config.rootfs.diff_ids };
}

test('kapsel oci-archive → skopeo docker-archive → kapsel load: same image ID and diff_ids', async () => {
  const { store, id, diffIds } = await original();
  const oci = join(tmp, 'k.oci.tar');
  const docker = join(tmp, 's.docker.tar');
  await saveArchive(store, [NAME], oci);
  skopeo('copy', `oci-archive:${oci}:${NAME}`, `docker-archive:${docker}:fixture:1`);
  const back = await openStore();
  const result = await loadArchive(back, docker);
  assert.equal(result.format, 'docker-archive');
  assert.deepEqual(result.images.map((i) => i.name), [NAME]);
  const image = await loadImage(back, NAME);
  assert.equal(image.manifest.config.digest, id);
  assert.deepEqual(image.config.rootfs.diff_ids, diffIds);
});

test('kapsel docker-archive → skopeo oci-archive and oci: directory → kapsel load of both', async () => {
  const { store, id } = await original();
  const docker = join(tmp, 'k.docker.tar');
  await saveArchive(store, [NAME], docker, { format: 'docker-archive' });
  const inspect = JSON.parse(skopeo('inspect', `docker-archive:${docker}`)) as { Layers: string[] };
  assert.equal(inspect.Layers.length, 2);
  const oci = join(tmp, 's.oci.tar');
  skopeo('copy', `docker-archive:${docker}`, `oci-archive:${oci}:busybox:1.36`);
  const fromTar = await openStore();
  assert.deepEqual((await loadArchive(fromTar, oci)).images.map((i) => i.name), ['docker.io/library/busybox:1.36']);
  assert.equal((await loadImage(fromTar, 'docker.io/library/busybox:1.36')).manifest.config.digest, id);
  const dir = join(tmp, 'layout');
  skopeo('copy', `docker-archive:${docker}`, `oci:${dir}:team/app:v2`);
  const fromDir = await openStore();
  assert.deepEqual((await loadArchive(fromDir, dir)).images.map((i) => i.name), ['docker.io/team/app:v2']);
});

test('umoci unpacks (rootless) the OCI layout skopeo makes from a kapsel archive: the files are there', async () => {
  const { store } = await original();
  const oci = join(tmp, 'u.oci.tar');
  await saveArchive(store, [NAME], oci);
  const dir = join(tmp, 'u-layout');
  skopeo('copy', `oci-archive:${oci}:${NAME}`, `oci:${dir}:fixture`);
  const bundle = join(tmp, 'u-bundle');
  execFileSync('umoci', ['unpack', '--rootless', '--image', `${dir}:fixture`, bundle], { stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(readFileSync(join(bundle, 'rootfs', 'etc', 'motd'), 'utf8'), 'hello from layer 1\n');
  assert.equal(readFileSync(join(bundle, 'rootfs', 'etc', 'hostname'), 'utf8'), 'layer2\n');
});
