/**
 * A minimal busybox OCI image built locally, with no registry: one uncompressed layer (busybox and
 * its applet symlinks, /etc/passwd, /etc/group, empty /proc /dev /sys /tmp /root), an image
 * config, a manifest and an index, packed as an OCI image-layout tar archive that
 * `ctr images import` (and `podman load`, `skopeo copy oci-archive:`) accept.
 *
 * The index entry carries both `io.containerd.image.name` (the full reference containerd 1.6
 * names the image by) and `org.opencontainers.image.ref.name` (the tag, as the layout spec
 * expects).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p)) ?? '/bin/busybox';

export interface BusyboxImageOptions {
  /** Full reference the image is imported as, e.g. `docker.io/library/kapsel-busybox:test`. */
  readonly ref?: string;
  /** Image `config.Cmd` (default `["sh"]`). */
  readonly cmd?: readonly string[];
}

export interface OciImage {
  /** The OCI image-layout archive (a tar file). */
  readonly archive: string;
  /** The reference in the archive's index annotations. */
  readonly ref: string;
  /** `sha256:…` of the manifest. */
  readonly manifestDigest: string;
  /** Removes the archive and its work directory. */
  cleanup(): void;
}

interface Blob {
  readonly digest: string;
  readonly size: number;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function tar(args: string[]): void {
  const r = spawnSync('tar', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')}: ${r.stderr?.toString() ?? r.error?.message}`);
}

function goArch(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return Object.hasOwn(map, process.arch) ? map[process.arch]! : process.arch;
}

/** Builds the busybox image archive in a fresh tmpdir. */
export function buildBusyboxImage(opts: BusyboxImageOptions = {}): OciImage {
  const ref = opts.ref ?? 'docker.io/library/kapsel-busybox:test';
  const work = mkdtempSync(join(tmpdir(), 'kapsel-image-'));
  const rootfs = join(work, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'etc', 'tmp', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
  const applets = spawnSync(BUSYBOX, ['--list']).stdout.toString().split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');

  const layout = join(work, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer): Blob => {
    const digest = sha256(data);
    writeFileSync(join(blobs, digest.slice('sha256:'.length)), data);
    return { digest, size: data.length };
  };

  // the layer: an uncompressed tar of the rootfs, owned by root, reproducible order and times
  const layerTar = join(work, 'layer.tar');
  tar(['--sort=name', '--numeric-owner', '--owner=0', '--group=0', '--mtime=@0', '-C', rootfs, '-cf', layerTar, '.']);
  const layer = put(readFileSync(layerTar));
  rmSync(layerTar);

  const config = put(Buffer.from(JSON.stringify({
    architecture: goArch(),
    os: 'linux',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: opts.cmd ?? ['sh'],
      WorkingDir: '/',
    },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
    history: [{ created_by: 'kapsel bundle-tests/oci-image.ts' }],
  })));

  const manifest = put(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
  })));

  const tag = ref.slice(ref.lastIndexOf(':') + 1);
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: manifest.digest,
      size: manifest.size,
      platform: { architecture: goArch(), os: 'linux' },
      annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': tag },
    }],
  }));

  const archive = join(work, 'busybox-oci.tar');
  tar(['--sort=name', '--numeric-owner', '--owner=0', '--group=0', '--mtime=@0', '-C', layout, '-cf', archive, 'oci-layout', 'index.json', 'blobs']);
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(layout, { recursive: true, force: true });
  return {
    archive,
    ref,
    manifestDigest: manifest.digest,
    cleanup() {
      rmSync(work, { recursive: true, force: true });
    },
  };
}
