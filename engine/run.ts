/**
 * `kapsel run IMAGE [CMD...]`: image -> bundle -> kapsel-runtime, in-process. The first use of
 * `busybox` builds the embedded default image from the host's busybox-static, so a machine
 * with no registry can run containers. A container's root filesystem is an overlay of the
 * image's shared layer snapshots (or a copy without overlayfs) under <store>/containers/<id>/.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Logger } from '../common/log.js';
import type { Syscalls } from '../sys/syscalls.js';
import { ContentStore, DEFAULT_STORE_ROOT } from '../images/store.js';
import { normalizeReference } from '../images/reference.js';
import { BUSYBOX_IMAGE_NAME, ensureBusyboxImage } from '../images/busybox-image.js';
import { loadImage } from '../images/image.js';
import { prepareRootfs, releaseRootfs } from '../images/snapshots.js';
import { prepareImageVolumes } from '../images/volumes.js';
import { imageToSpec } from '../images/to-bundle.js';
import { readImageUserDb } from '../images/rootfs-files.js';
import { StateStore } from '../runtime/state-store.js';
import { runContainer } from '../runtime/run.js';
import { destroyRecordedCgroup } from '../runtime/cgroup-cleanup.js';

export const KAPSEL_STATE_ROOT = '/run/kapsel';

export interface KapselRunOptions {
  readonly image: string;
  readonly args: readonly string[];
  readonly name?: string | undefined;
  readonly rm: boolean;
  readonly env?: readonly string[];
  readonly workdir?: string | undefined;
  readonly user?: string | undefined;
  readonly hostname?: string | undefined;
  readonly readOnly?: boolean;
  readonly entrypoint?: string | undefined;
  /** Image store root (default /var/lib/kapsel). */
  readonly storeRoot?: string | undefined;
  /** Runtime state root (default /run/kapsel). */
  readonly stateRoot?: string | undefined;
}

/** Runs the container attached and returns its exit status. */
export async function kapselRun(sys: Syscalls, opts: KapselRunOptions, log: Logger): Promise<number> {
  const storeRoot = opts.storeRoot ?? DEFAULT_STORE_ROOT;
  const store = await ContentStore.open({ root: storeRoot, syscalls: sys });
  const ref = normalizeReference(opts.image);
  if (ref === BUSYBOX_IMAGE_NAME) await ensureBusyboxImage(store);
  const image = await loadImage(store, ref);
  const id = opts.name ?? randomBytes(6).toString('hex');
  const bundle = join(storeRoot, 'containers', id);
  mkdirSync(bundle, { recursive: true, mode: 0o755 });
  try {
    const { rootfs } = await prepareRootfs(store, image, bundle, sys);
    const users = readImageUserDb(rootfs);
    const volumes = prepareImageVolumes(image.config, bundle, rootfs);
    const spec = imageToSpec(image.config, {
      image: ref,
      ...(users.passwd !== undefined && { passwd: users.passwd }),
      ...(users.group !== undefined && { group: users.group }),
      ...(opts.args.length > 0 && { args: opts.args }),
      ...(opts.entrypoint !== undefined && { entrypoint: opts.entrypoint === '' ? [] : [opts.entrypoint] }),
      ...(opts.env !== undefined && { env: opts.env }),
      ...(opts.workdir !== undefined && { workdir: opts.workdir }),
      ...(opts.user !== undefined && { user: opts.user }),
      hostname: opts.hostname ?? id.slice(0, 12),
      volumes,
      readonlyRootfs: opts.readOnly === true,
      terminal: false,
    });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
    const state = new StateStore(opts.stateRoot ?? KAPSEL_STATE_ROOT);
    return await runContainer(sys, state, { id, bundle }, { destroyCgroup: destroyRecordedCgroup }, log);
  } finally {
    if (opts.rm) {
      releaseRootfs(bundle, sys);
      rmSync(bundle, { recursive: true, force: true });
    }
  }
}
