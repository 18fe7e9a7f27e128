/**
 * A new container: image -> rootfs + config.json under <store>/containers/<id>/, and its record.
 * The container is not started here (the monitor starts it: monitor.ts).
 */
import { prepareNetworkFiles } from '../network/container-files.js';
import { hostResolvConf, joinedNetnsPath } from './network.js';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeBinaryPath } from '../common/install-paths.js';
import { KapselError } from '../common/errors.js';
import { mark } from '../common/timeline.js';
import { ContentStore } from '../images/store.js';
import { normalizeReference } from '../images/reference.js';
import { loadImage } from '../images/image.js';
import { imageToSpec } from '../images/to-bundle.js';
import { readImageUserDb } from '../images/rootfs-files.js';
import type { EngineContext } from './context.js';
import { newContainerId, type ContainerRecord } from './container-store.js';
import { applyHostConfig, hostConfigFrom, isBridgeMode, readEnvFiles, type RunFlags } from './run-config.js';
import { randomName } from './names.js';
import { prepareRootfs, releaseRootfs } from '../images/snapshots.js';
import { prepareImageVolumes } from '../images/volumes.js';

/** The static pid 1 of `--init` (native/init.c), next to the monitor unless KAPSEL_INIT names it. */
function initBinary(): string {
  const path = process.env['KAPSEL_INIT'] ?? nativeBinaryPath('kapsel-init');
  if (!existsSync(path)) throw new KapselError('ERR_INIT', `--init: \`${path}\` not found`, { hint: 'build it with `make -C native`' });
  return path;
}

export async function createContainerFromImage(ctx: EngineContext, f: RunFlags): Promise<ContainerRecord> {
  const hostConfig = hostConfigFrom(f);
  const env = [...readEnvFiles(f.envFile ?? []), ...(f.env ?? [])];
  const store = await ContentStore.open({ root: ctx.storeRoot, syscalls: ctx.sys });
  const ref = normalizeReference(f.image);
  if ((await store.resolve(ref)) === undefined) {
    // the embedded busybox is built on first use (its tar and gzip code loaded only then)
    const busybox = await import('../images/busybox-image.js');
    if (ref === busybox.BUSYBOX_IMAGE_NAME) await busybox.ensureBusyboxImage(store);
  }
  const image = await loadImage(store, ref);
  mark(ctx.log, `image ${ref} loaded`);
  const id = newContainerId();
  const name = f.name ?? randomName(id);
  ctx.containers.claim(id, name);
  mark(ctx.log, `name ${name} claimed`);
  const dir = ctx.containers.dir(id);
  try {
    // an overlay of the image's shared layer snapshots (a copy where overlayfs is unavailable)
    // --rm: nothing of the container's writes outlives it, so its overlay never syncs them
    const { rootfs } = await prepareRootfs(store, image, dir, ctx.sys, { volatile: hostConfig.autoRemove });
    mark(ctx.log, 'rootfs prepared');
    const users = readImageUserDb(rootfs);
    const volumes = prepareImageVolumes(image.config, dir, rootfs);
    const hostname = f.hostname ?? id.slice(0, 12);
    const spec = imageToSpec(image.config, {
      image: ref,
      ...(users.passwd !== undefined && { passwd: users.passwd }),
      ...(users.group !== undefined && { group: users.group }),
      ...(f.args.length > 0 && { args: f.args }),
      ...(f.entrypoint !== undefined && { entrypoint: f.entrypoint === '' ? [] : [f.entrypoint] }),
      env,
      ...(f.workdir !== undefined && { workdir: f.workdir }),
      ...(f.user !== undefined && { user: f.user }),
      hostname,
      volumes,
      readonlyRootfs: hostConfig.readonlyRootfs,
      terminal: f.tty === true,
    });
    applyHostConfig(spec, hostConfig, hostConfig.init === true ? initBinary() : '');
    // --network container:REF: REF must be running now (the path is refreshed at every start)
    if (hostConfig.networkMode.startsWith('container:')) joinedNetnsPath(ctx, hostConfig.networkMode);
    if (isBridgeMode(hostConfig.networkMode)) {
      // /etc/hosts (kept up to date with the network's peers by network/) and /etc/resolv.conf
      spec.mounts = [...(spec.mounts ?? []), ...prepareNetworkFiles(dir, hostname, hostResolvConf()).mounts];
    }
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 1));
    const c = image.config.config ?? {};
    const rec: ContainerRecord = {
      id,
      name,
      created: new Date().toISOString(),
      config: {
        image: f.image,
        cmd: f.args.length > 0 ? [...f.args] : f.entrypoint !== undefined ? [] : [...(c.Cmd ?? [])],
        entrypoint: f.entrypoint !== undefined ? (f.entrypoint === '' ? [] : [f.entrypoint]) : c.Entrypoint,
        env: spec.process?.env ?? [],
        workingDir: spec.process?.cwd ?? '/',
        user: f.user ?? c.User ?? '',
        hostname,
        tty: f.tty === true,
        openStdin: f.interactive === true,
        stopSignal: f.stopSignal ?? c.StopSignal ?? 'SIGTERM',
        ...(c.Labels !== undefined && { labels: c.Labels }),
      },
      hostConfig,
      startedAt: '',
      finishedAt: '',
      exitCode: 0,
      oomKilled: false,
      restartCount: 0,
      manuallyStopped: false,
      monitorPid: 0,
      monitorStartTime: '',
      pid: 0,
      state: 'created',
      error: '',
    };
    ctx.containers.write(rec);
    mark(ctx.log, 'config.json and record written');
    return rec;
  } catch (err) {
    releaseRootfs(dir, ctx.sys);
    ctx.containers.remove(id, name);
    throw err;
  }
}
