/**
 * Layer snapshots and container root filesystems.
 *
 *   <store>/snapshots/<chain id hex>/    one layer, unpacked alone in overlayfs format
 *                                        (whiteouts as 0/0 character devices, opaque
 *                                        directories as trusted.overlay.opaque=y), read-only
 *                                        by convention, shared by every container and image
 *   <store>/snapshots/.locks/<hex>       flock(2) target: one unpacker per layer
 *   <store>/snapshots/.tmp-<hex>-<rand>/ a layer being unpacked; renamed into place when
 *                                        complete, so a half-unpacked layer is never used
 *   <containerDir>/rootfs                overlayfs: lowerdir = the image's snapshots (top layer
 *                                        first), upperdir/workdir = <containerDir>/upper, work
 *   <containerDir>/rootfs.json           what prepareRootfs did (kind, image, layers): read by
 *                                        releaseRootfs, rmi's in-use check and prune
 *
 * A snapshot is keyed by the layer's chain ID (image-spec config.md "Layer ChainID": the bottom
 * layer's diff_id, then sha256 of `<parent chain id> <diff_id>`), as containerd's are: a layer's
 * entries are resolved against the layers below it (a parent symlink of a lower layer is
 * followed, a hard link to a lower file copies it up: overlay-lowers.ts), so its directory
 * depends on them. The same stack of layers in two images is one set of directories. The
 * unpacker checks the diff_id as it reads (unpack.ts). Overlayfs is probed once per store (mount a tiny
 * overlay under snapshots/; a success is remembered in snapshots/.overlay-probe for this kernel
 * release and filesystem, so later processes skip the probe's mount and removal); without it (not root, a store on a filesystem overlayfs cannot use
 * as upper, an old kernel) each container gets a full copy of the layers, as before.
 *
 * The overlay is mounted with the new mount API (fsopen + `lowerdir+` per layer, Linux 6.8),
 * which has no limit on the number of layers; older kernels get mount(2) with one `lowerdir=`
 * string (limited to a page).
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { AT_FDCWD, FSMOUNT_CLOEXEC, FSOPEN_CLOEXEC, MNT_DETACH, MOVE_MOUNT_F_EMPTY_PATH } from '../sys/constants.js';
import { isErrno } from '../sys/syscall-error.js';
import type { Syscalls } from '../sys/syscalls.js';
import { sha256Digest } from './digest.js';
import { listImageRecords } from './image-find.js';
import { unpackImage, type ResolvedImage } from './image.js';
import type { ContentStore } from './store.js';
import { withFileLock } from './store-lock.js';

export type RootfsKind = 'overlay' | 'copy';

export interface PreparedRootfs {
  readonly rootfs: string;
  readonly kind: RootfsKind;
  /** Layers unpacked by this call (0 when every snapshot existed, or for a copy: all). */
  readonly unpackedLayers: number;
}

interface RootfsRecord {
  readonly kind: RootfsKind;
  readonly image: string;
  readonly imageId: string;
  /** Snapshot names (chain id hex) of each layer, lowest first (overlay only). */
  readonly snapshots: string[];
}

export interface PrepareOptions {
  /** `auto` (default): overlay when the probe succeeds, else copy. */
  readonly kind?: RootfsKind | 'auto';
  /**
   * A container whose changes are thrown away when it exits (`run --rm`): the overlay is mounted
   * `volatile` (Linux 5.10, overlayfs.rst "Volatile mount"), so it never syncs the upper layer
   * and its unmount does not wait for a sync; kernels without it get a plain overlay.
   */
  readonly volatile?: boolean;
}

const LOCK_TIMEOUT_MS = 10 * 60_000;
const RECORD = 'rootfs.json';
/** A probe that succeeded: `<kernel release> <st_dev of snapshots/>`. */
const PROBE_MARK = '.overlay-probe';
const probes = new Map<string, Promise<boolean>>();

const snapshotsDir = (store: ContentStore): string => join(store.root, 'snapshots');
const hexOf = (digest: string): string => digest.slice(digest.indexOf(':') + 1);

/** The chain IDs of `diffIds` (lowest first): image-spec config.md "Layer ChainID". */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const parent = out[out.length - 1];
    out.push(parent === undefined ? diffId : sha256Digest(`${parent} ${diffId}`));
  }
  return out;
}

/**
 * The snapshot directory of layer `index`, unpacking it first unless another call already did;
 * `lowers` are the snapshot directories of the layers below it, lowest first.
 */
export async function ensureSnapshot(store: ContentStore, image: ResolvedImage, index: number, lowers: readonly string[], sys: Syscalls): Promise<{ dir: string; unpacked: boolean }> {
  const layer = image.manifest.layers[index];
  const diffId = image.config.rootfs.diff_ids[index];
  const chainId = chainIds(image.config.rootfs.diff_ids.slice(0, index + 1))[index];
  if (layer === undefined || diffId === undefined || chainId === undefined) throw new KapselError('ERR_IMAGE_INVALID', `image \`${image.name}\`: no layer ${index}`);
  if (lowers.length !== index) throw new KapselError('ERR_IMAGE_INVALID', `image \`${image.name}\`: layer ${index} needs the ${index} snapshots below it`);
  const hex = hexOf(chainId);
  const root = snapshotsDir(store);
  const dir = join(root, hex);
  if (existsSync(dir)) return { dir, unpacked: false };
  mkdirSync(join(root, '.locks'), { recursive: true, mode: 0o700 });
  return withFileLock(sys, join(root, '.locks', hex), LOCK_TIMEOUT_MS, async () => {
    if (existsSync(dir)) return { dir, unpacked: false }; // another process finished it meanwhile
    if (!(await store.has(layer.digest))) throw new KapselError('ERR_IMAGE_BLOB_MISSING', `image \`${image.name}\`: layer ${layer.digest} is not in the image store`);
    const temp = join(root, `.tmp-${hex}-${randomBytes(4).toString('hex')}`);
    mkdirSync(temp, { mode: 0o755 });
    try {
      // loaded here: a run whose snapshots exist needs no tar or gzip code
      const { unpackLayer } = await import('./unpack.js');
      await unpackLayer(temp, store.openBlob(layer.digest), {
        layer: layer.digest,
        mediaType: layer.mediaType,
        diffId,
        syscalls: sys,
        xattrs: sys,
        whiteouts: 'overlay',
        lowers: { dirs: lowers, xattrs: sys },
      });
      renameSync(temp, dir);
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      throw err;
    }
    return { dir, unpacked: true };
  });
}

/** Whether overlayfs works on this store (probed once per store root and process). */
export function overlaySupported(store: ContentStore, sys: Syscalls): Promise<boolean> {
  let probe = probes.get(store.root);
  if (probe === undefined) {
    probe = Promise.resolve().then(() => probeOverlay(snapshotsDir(store), sys));
    probes.set(store.root, probe);
  }
  return probe;
}

function probeOverlay(root: string, sys: Syscalls): boolean {
  if (process.geteuid?.() !== 0) return false;
  let key = '';
  try {
    mkdirSync(root, { recursive: true });
    key = `${release()} ${statSync(root).dev}\n`;
    if (readFileSync(join(root, PROBE_MARK), 'utf8') === key) return true;
  } catch {
    // no mark yet: probe
  }
  if (!probeOverlayMount(root, sys)) return false;
  try {
    if (key !== '') writeFileSync(join(root, PROBE_MARK), key);
  } catch {
    // the next process probes again
  }
  return true;
}

function probeOverlayMount(root: string, sys: Syscalls): boolean {
  const dir = join(root, `.probe-${randomBytes(4).toString('hex')}`);
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(dir, d)) as [string, string, string, string];
  try {
    for (const d of [lower, upper, work, merged]) mkdirSync(d, { recursive: true });
    mountOverlay(sys, [lower], upper, work, merged);
    sys.umount2(merged, MNT_DETACH);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mounts overlayfs at `target`; `lowers` top layer first. */
function mountOverlay(sys: Syscalls, lowers: readonly string[], upper: string, work: string, target: string, volatile = false): void {
  if (volatile) {
    try {
      mountOverlayOnce(sys, lowers, upper, work, target, true);
      return;
    } catch (err) {
      // a kernel before 5.10 refuses the option (EINVAL): mount without it
      if (!isErrno(err, 'EINVAL')) throw err;
    }
  }
  mountOverlayOnce(sys, lowers, upper, work, target, false);
}

function mountOverlayOnce(sys: Syscalls, lowers: readonly string[], upper: string, work: string, target: string, volatile: boolean): void {
  let fsfd: number | undefined;
  try {
    fsfd = sys.fsopen('overlay', FSOPEN_CLOEXEC);
    sys.fsconfigSetString(fsfd, 'source', 'kapsel');
    for (const lower of lowers) sys.fsconfigSetString(fsfd, 'lowerdir+', lower);
    sys.fsconfigSetString(fsfd, 'upperdir', upper);
    sys.fsconfigSetString(fsfd, 'workdir', work);
    if (volatile) sys.fsconfigSetFlag(fsfd, 'volatile');
    sys.fsconfigCreate(fsfd);
    const mfd = sys.fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
    try {
      sys.moveMount(mfd, '', AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
    } finally {
      sys.close(mfd);
    }
  } catch (err) {
    // before Linux 6.8 (no `lowerdir+`) or without the new mount API: one mount(2) call
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'ENOSYS')) throw err;
    sys.mount('overlay', target, 'overlay', 0, `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}${volatile ? ',volatile' : ''}`);
  } finally {
    if (fsfd !== undefined) sys.close(fsfd);
  }
}

/**
 * The root filesystem of a new container of `image` at `<containerDir>/rootfs`: an overlay of
 * the image's layer snapshots, or a copy of the layers when overlayfs is unavailable.
 */
export async function prepareRootfs(store: ContentStore, image: ResolvedImage, containerDir: string, sys: Syscalls, opts: PrepareOptions = {}): Promise<PreparedRootfs> {
  const rootfs = join(containerDir, 'rootfs');
  mkdirSync(rootfs, { recursive: true, mode: 0o755 });
  const want = opts.kind ?? 'auto';
  const overlay = image.manifest.layers.length > 0 && (want === 'overlay' || (want === 'auto' && (await overlaySupported(store, sys))));
  const base = { image: image.name, imageId: image.manifest.config.digest };
  if (!overlay) {
    writeRecord(containerDir, { kind: 'copy', ...base, snapshots: [] });
    await unpackImage(store, image, rootfs, { syscalls: sys, xattrs: sys });
    return { rootfs, kind: 'copy', unpackedLayers: image.manifest.layers.length };
  }
  const dirs: string[] = [];
  let unpackedLayers = 0;
  for (let i = 0; i < image.manifest.layers.length; i++) {
    const snap = await ensureSnapshot(store, image, i, dirs, sys);
    dirs.push(snap.dir);
    if (snap.unpacked) unpackedLayers++;
  }
  const upper = join(containerDir, 'upper');
  const work = join(containerDir, 'work');
  mkdirSync(upper, { mode: 0o755 });
  mkdirSync(work, { mode: 0o700 });
  writeRecord(containerDir, { kind: 'overlay', ...base, snapshots: chainIds(image.config.rootfs.diff_ids).map(hexOf) });
  mountOverlay(sys, [...dirs].reverse(), upper, work, rootfs, opts.volatile === true);
  return { rootfs, kind: 'overlay', unpackedLayers };
}

function writeRecord(containerDir: string, record: RootfsRecord): void {
  writeFileSync(join(containerDir, RECORD), `${JSON.stringify(record)}\n`);
}

function readRecord(containerDir: string): RootfsRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(containerDir, RECORD), 'utf8')) as RootfsRecord;
  } catch {
    return undefined;
  }
}

/**
 * Undoes prepareRootfs: unmounts the overlay (lazily: the container's own mount namespace may
 * still hold it) and removes the upper and work directories. The caller removes containerDir.
 */
export function releaseRootfs(containerDir: string, sys: Syscalls): void {
  const record = readRecord(containerDir);
  const rootfs = join(containerDir, 'rootfs');
  if (record?.kind === 'overlay') {
    try {
      sys.umount2(rootfs, MNT_DETACH);
    } catch (err) {
      if (!isErrno(err, 'EINVAL') && !isErrno(err, 'ENOENT')) throw err; // EINVAL: not mounted
    }
    for (const d of ['upper', 'work']) rmSync(join(containerDir, d), { recursive: true, force: true });
  }
}

/** Container directories (under <store>/containers) whose rootfs record names image `id`. */
export async function containersUsingImage(storeRoot: string, id: string): Promise<string[]> {
  return listRecords(storeRoot).filter(([, r]) => r.imageId === id).map(([name]) => name);
}

function listRecords(storeRoot: string): Array<[string, RootfsRecord]> {
  const dir = join(storeRoot, 'containers');
  if (!existsSync(dir)) return [];
  const out: Array<[string, RootfsRecord]> = [];
  for (const name of readdirSync(dir)) {
    const record = readRecord(join(dir, name));
    if (record !== undefined) out.push([name, record]);
  }
  return out;
}

/** Removes snapshots no stored image and no container uses, and stale unpack leftovers. */
export async function pruneSnapshots(store: ContentStore): Promise<{ removed: string[]; freedBytes: number }> {
  const root = snapshotsDir(store);
  if (!existsSync(root)) return { removed: [], freedBytes: 0 };
  const keep = new Set<string>();
  for (const r of await listImageRecords(store)) for (const c of chainIds(r.image?.config.rootfs.diff_ids ?? [])) keep.add(hexOf(c));
  for (const [, record] of listRecords(store.root)) for (const hex of record.snapshots) keep.add(hexOf(hex));
  const removed: string[] = [];
  const staleMs = Date.now() - 60 * 60_000;
  for (const name of readdirSync(root)) {
    if (name === '.locks' || name === PROBE_MARK) continue;
    const path = join(root, name);
    if (name.startsWith('.')) {
      if (statSync(path).mtimeMs < staleMs) rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (keep.has(name)) continue;
    rmSync(path, { recursive: true, force: true });
    rmSync(join(root, '.locks', name), { force: true });
    removed.push(`sha256:${name}`);
  }
  return { removed, freedBytes: 0 };
}
