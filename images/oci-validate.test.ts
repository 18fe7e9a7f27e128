import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KapselError } from '../common/errors.js';
import { MEDIA_TYPE, layerCompression } from './oci-types.js';
import {
  checkConfigMatchesManifest,
  digestProblem,
  parseImageConfig,
  parseImageIndex,
  parseImageManifest,
  parseManifestDocument,
} from './oci-validate.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

const manifest = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPE.ociManifest,
  config: { mediaType: MEDIA_TYPE.ociConfig, digest: D1, size: 10 },
  layers: [{ mediaType: MEDIA_TYPE.ociLayerGzip, digest: D2, size: 20 }],
};

function invalid(fn: () => unknown, ...parts: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KapselError);
    assert.equal(err.code, 'ERR_IMAGE_INVALID');
    for (const p of parts) assert.match(err.message, p);
    return true;
  });
}

test('a valid OCI manifest parses and keeps its fields', () => {
  const m = parseImageManifest(manifest, 'm');
  assert.equal(m.layers[0]?.digest, D2);
  assert.equal(m.config.size, 10);
});

test('a Docker schema 2 manifest parses with its own media types', () => {
  const docker = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.dockerManifest,
    config: { mediaType: MEDIA_TYPE.dockerConfig, digest: D1, size: 1 },
    layers: [{ mediaType: MEDIA_TYPE.dockerLayerGzip, digest: D2, size: 2 }],
  };
  const doc = parseManifestDocument(bytes(docker), 'd');
  assert.equal(doc.kind, 'manifest');
  assert.equal(doc.mediaType, MEDIA_TYPE.dockerManifest);
  assert.equal(layerCompression(MEDIA_TYPE.dockerLayerGzip), 'gzip');
  assert.equal(layerCompression(MEDIA_TYPE.ociLayerZstd), 'zstd');
  assert.equal(layerCompression(MEDIA_TYPE.ociLayer), 'none');
  assert.equal(layerCompression('constructor'), undefined);
});

test('every manifest violation is reported at once with its JSON path', () => {
  invalid(
    () => parseImageManifest({ schemaVersion: 1, config: { mediaType: 'bad', digest: 'sha256:xyz', size: -1 }, layers: [{}] }, 'sha256:abc'),
    /^invalid image manifest `sha256:abc`: /,
    /\$\.schemaVersion: must be 2/,
    /\$\.config\.mediaType: must be a media type/,
    /\$\.config\.digest: sha256 digest must be 64 lowercase hex digits/,
    /\$\.config\.size: must not be negative/,
    /\$\.layers\[0\]\.mediaType: is required/,
    /\$\.layers\[0\]\.digest: is required/,
  );
  invalid(() => parseImageManifest({ schemaVersion: 2, config: manifest.config }, 'm'), /\$\.layers: is required/);
  invalid(() => parseImageManifest({ ...manifest, mediaType: MEDIA_TYPE.ociIndex }, 'm'), /not an image manifest media type/);
});

test('indexes and manifest lists parse; kinds come from mediaType, descriptor or shape', () => {
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.dockerManifestList,
    manifests: [{ mediaType: MEDIA_TYPE.dockerManifest, digest: D1, size: 3, platform: { os: 'linux', architecture: 'amd64' } }],
  };
  assert.equal(parseManifestDocument(bytes(index), 'i').kind, 'index');
  const { mediaType: _m, ...bare } = index;
  assert.equal(parseManifestDocument(bytes(bare), 'i').kind, 'index');
  const { mediaType: _n, ...bareManifest } = manifest;
  assert.equal(parseManifestDocument(bytes(bareManifest), 'm', MEDIA_TYPE.dockerManifest).mediaType, MEDIA_TYPE.dockerManifest);
  invalid(
    () => parseImageIndex({ schemaVersion: 2, manifests: [{ mediaType: MEDIA_TYPE.ociManifest, digest: D1, size: 1, platform: { os: 'linux' } }] }, 'i'),
    /\$\.manifests\[0\]\.platform\.architecture: is required/,
  );
});

test('a document whose mediaType disagrees with its descriptor is refused', () => {
  invalid(() => parseManifestDocument(bytes(manifest), 'm', MEDIA_TYPE.ociIndex), /differs from the descriptor's/);
});

test('schema 1 and unknown media types are unsupported, not invalid', () => {
  for (const doc of [{ schemaVersion: 1, name: 'x' }, { ...manifest, mediaType: 'application/vnd.example+json' }]) {
    assert.throws(() => parseManifestDocument(bytes(doc), 'x'), (err: unknown) => err instanceof KapselError && err.code === 'ERR_IMAGE_UNSUPPORTED');
  }
  invalid(() => parseManifestDocument(Buffer.from('{not json'), 'x'), /not JSON/);
});

test('image config: Docker nulls read as absent, fields are typed', () => {
  const config = parseImageConfig({
    architecture: 'amd64',
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: { Entrypoint: null, Cmd: ['sh'], Env: ['A=1'], Volumes: null, Labels: { a: 'b' }, ExposedPorts: { '80/tcp': {} }, OnBuild: null },
    rootfs: { type: 'layers', diff_ids: [D2] },
    history: [{ created_by: 'x', empty_layer: true }],
  }, 'c');
  assert.deepEqual(config.config, { Cmd: ['sh'], Env: ['A=1'], Labels: { a: 'b' }, ExposedPorts: { '80/tcp': {} } });
  assert.equal(config.history?.[0]?.empty_layer, true);
  checkConfigMatchesManifest(parseImageManifest(manifest, 'm'), config, 'busybox');
});

test('image config violations are listed with paths', () => {
  invalid(
    () => parseImageConfig({ os: 'linux', config: { Cmd: 'sh', Labels: { a: 1 } }, rootfs: { type: 'tar', diff_ids: ['x'] } }, 'sha256:c'),
    /\$\.architecture: is required/,
    /\$\.config\.Cmd: must be an array/,
    /\$\.config\.Labels\.a: must be a string/,
    /\$\.rootfs\.type: must be "layers"/,
    /\$\.rootfs\.diff_ids\[0\]: must be a digest/,
  );
  const config = parseImageConfig({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }, 'c');
  invalid(() => checkConfigMatchesManifest(parseImageManifest(manifest, 'm'), config, 'img'), /manifest lists 1 layer but the config 0 diff_ids/);
});

test('digestProblem', () => {
  assert.equal(digestProblem(D1), undefined);
  assert.equal(digestProblem(`sha512:${'a'.repeat(128)}`), undefined);
  assert.equal(digestProblem(`multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8`), undefined);
  assert.match(digestProblem('sha256') ?? '', /algorithm:encoded/);
  assert.match(digestProblem(`sha256:${'A'.repeat(64)}`) ?? '', /lowercase hex/);
});
