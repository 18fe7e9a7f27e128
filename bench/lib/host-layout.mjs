// A large multi-layer OCI image layout built from host directories, for the unpack benches
// (bench/unpack-bench.mjs, bench/image-bench.mjs): one gzip layer per directory (GNU tar,
// numeric owners, xattrs, sorted) and a last layer of whiteouts over them.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const sha256 = (buf) => `sha256:${createHash('sha256').update(buf).digest('hex')}`;
export const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'inherit'], maxBuffer: 1 << 30, ...opts });

/**
 * Writes the layout into `work`/layout (scratch in `work`/wh) and returns its blobs and sizes:
 * { layout, layers, config, manifest, descriptor, diffIds, tarTotal, gzTotal }.
 */
export function buildHostLayout(work, { sources, whiteouts, refName }) {
  const layout = join(work, 'layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const putBlob = (data) => {
    const digest = sha256(data);
    writeFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const layers = [];
  const diffIds = [];
  let tarTotal = 0;
  const addLayer = (tar) => {
    tarTotal += tar.length;
    diffIds.push(sha256(tar));
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...putBlob(run('gzip', ['-6', '-n'], { input: tar })) });
  };
  for (const src of sources) if (existsSync(`/${src}`)) addLayer(run('tar', ['-C', '/', '--numeric-owner', '--xattrs', '--sort=name', '-cf', '-', src]));
  const wh = join(work, 'wh');
  for (const p of whiteouts) {
    mkdirSync(join(wh, p, '..'), { recursive: true });
    writeFileSync(join(wh, p), '');
  }
  addLayer(run('tar', ['-C', wh, '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', 'usr']));
  const config = putBlob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: diffIds } })));
  const manifest = putBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers })));
  const descriptor = { mediaType: MANIFEST, ...manifest };
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...descriptor, annotations: { 'org.opencontainers.image.ref.name': refName } }] }));
  return { layout, layers, config, manifest, descriptor, diffIds, tarTotal, gzTotal: layers.reduce((n, l) => n + l.size, 0) };
}
