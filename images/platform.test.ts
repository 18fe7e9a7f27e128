import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KapselError } from '../common/errors.js';
import { MEDIA_TYPE, type Descriptor, type ImageIndex, type Platform } from './oci-types.js';
import { formatPlatform, hostPlatform, parsePlatform, platformDistance, selectManifest } from './platform.js';

function entry(n: number, platform?: Platform, annotations?: Record<string, string>): Descriptor {
  return {
    mediaType: MEDIA_TYPE.ociManifest,
    digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
    size: n,
    ...(platform !== undefined && { platform }),
    ...(annotations !== undefined && { annotations }),
  };
}

const index: ImageIndex = {
  schemaVersion: 2,
  manifests: [
    entry(1, { os: 'linux', architecture: 'arm', variant: 'v6' }),
    entry(2, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    entry(3, { os: 'linux', architecture: 'amd64' }),
    entry(4, { os: 'unknown', architecture: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest' }),
    entry(5, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    entry(6, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }),
  ],
};

test('linux/amd64 is selected by default', () => {
  assert.equal(selectManifest(index, 'img').size, 3);
});

test('variants: exact first, then older compatible ones; arm64/v8 equals arm64', () => {
  assert.equal(selectManifest(index, 'img', parsePlatform('linux/arm/v7')).size, 5);
  assert.equal(selectManifest(index, 'img', parsePlatform('linux/arm64')).size, 2);
  assert.equal(selectManifest(index, 'img', parsePlatform('linux/aarch64')).size, 2);
  const onlyV6: ImageIndex = { schemaVersion: 2, manifests: [index.manifests[0]!] };
  assert.equal(selectManifest(onlyV6, 'img', parsePlatform('linux/arm/v7')).size, 1);
  assert.throws(() => selectManifest(onlyV6, 'img', parsePlatform('linux/arm/v5')));
  assert.equal(platformDistance(parsePlatform('linux/amd64/v3'), { os: 'linux', architecture: 'amd64' }), 2);
  assert.equal(platformDistance(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64', variant: 'v3' }), undefined);
});

test('no match lists what is available', () => {
  assert.throws(() => selectManifest(index, 'docker.io/library/x:1', parsePlatform('linux/s390x')), (err: unknown) => {
    assert.ok(err instanceof KapselError);
    assert.equal(err.code, 'ERR_IMAGE_PLATFORM');
    assert.equal(err.message, 'image `docker.io/library/x:1` has no manifest for platform linux/s390x (available: linux/arm/v6, linux/arm64, linux/amd64, unknown/unknown, linux/arm/v7, windows/amd64)');
    return true;
  });
});

test('a single entry without platform (plain OCI layout) is taken', () => {
  assert.equal(selectManifest({ schemaVersion: 2, manifests: [entry(7)] }, 'x').size, 7);
  assert.throws(() => selectManifest({ schemaVersion: 2, manifests: [entry(7), entry(8)] }, 'x'), /available: none/);
});

test('parse and format platforms', () => {
  assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/armhf'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.equal(formatPlatform(parsePlatform('Linux/ARM/7')), 'linux/arm/v7');
  assert.deepEqual(hostPlatform('x64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(hostPlatform('arm64'), { os: 'linux', architecture: 'arm64' });
  for (const bad of ['linux', 'linux/', 'a/b/c/d', 'linux/am d64']) assert.throws(() => parsePlatform(bad), /invalid platform/);
});
