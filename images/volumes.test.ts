import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '../oci/validate.js';
import type { ImageConfig } from './oci-types.js';
import { imageToSpec } from './to-bundle.js';
import { imageVolumePaths, prepareImageVolumes } from './volumes.js';

const tmp = mkdtempSync(join(tmpdir(), 'kapsel-volumes-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const config = (volumes: string[]): ImageConfig => ({
  architecture: 'amd64',
  os: 'linux',
  config: { Cmd: ['sh'], Volumes: Object.fromEntries(volumes.map((v) => [v, {}])) },
  rootfs: { type: 'layers', diff_ids: [] },
});

test('volume paths are cleaned, deduplicated and sorted; the root is refused', () => {
  assert.deepEqual(imageVolumePaths(config(['/var/lib/db/', 'data', '/data', '/a//b'])), ['/a/b', '/data', '/var/lib/db']);
  assert.throws(() => imageVolumePaths(config(['/'])), /cannot be the root directory/);
});

test('each volume is a directory under the container, seeded from the image, and a bind mount in the spec', () => {
  const ctr = join(tmp, 'c1');
  const rootfs = join(ctr, 'rootfs');
  mkdirSync(join(rootfs, 'data', 'sub'), { recursive: true, mode: 0o750 });
  writeFileSync(join(rootfs, 'data', 'sub', 'seed'), 'from image');
  mkdirSync(join(tmp, 'outside'));
  writeFileSync(join(tmp, 'outside', 'secret'), 'host file');
  symlinkSync(join(tmp, 'outside'), join(rootfs, 'escape'));
  const cfg = config(['/data', '/escape', '/empty']);
  const mounts = prepareImageVolumes(cfg, ctr, rootfs);
  assert.deepEqual(mounts, [
    { destination: '/data', source: join(ctr, 'volumes', '0') },
    { destination: '/empty', source: join(ctr, 'volumes', '1') },
    { destination: '/escape', source: join(ctr, 'volumes', '2') },
  ]);
  assert.equal(readFileSync(join(ctr, 'volumes', '0', 'sub', 'seed'), 'utf8'), 'from image');
  assert.deepEqual(readdirSync(join(ctr, 'volumes', '2')), [], 'a symlinked volume path is not followed out of the root');
  assert.equal(statSync(join(ctr, 'volumes', '0')).mode & 0o777, 0o755 & statSync(join(rootfs, 'data')).mode);
  const spec = imageToSpec(cfg, { image: 'v:1', volumes: mounts });
  assert.deepEqual(validateSpec(spec, { requireProcess: true }), []);
  assert.deepEqual(spec.mounts?.slice(-3).map((m) => [m.destination, m.type, m.source, m.options]), mounts.map((m) => [m.destination, 'bind', m.source, ['rbind', 'rw']]));
  assert.equal(spec.annotations?.['io.github.kapsel.image.volumes'], '/data,/escape,/empty');
});
