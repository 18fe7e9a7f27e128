/**
 * VM containers (README "MicroVM isolation"): selected by the annotation
 * `run.kapsel.isolation=vm` or a `vm` section in config.json. create builds the guest's
 * initramfs (kapsel's guest init, the virtio modules, the process policy, the rootfs), creates
 * the container's cgroup and boots the VM under kapsel-vmm, whose pid is the container's pid;
 * the guest init waits for `start` (the exec fifo, as for other containers). state, kill and
 * delete then work unchanged: kill signals kapsel-vmm, which relays the signal to the guest.
 */
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { KapselError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { PR_SET_CHILD_SUBREAPER } from '../sys/constants.js';
import type { Syscalls } from '../sys/syscalls.js';
import type { Spec } from '../oci/runtime-spec.js';
import { detectAccelerator, type AcceleratorInfo } from '../microvm/accelerator.js';
import { findKernel } from '../microvm/kernel.js';
import { guestModules } from '../microvm/modules.js';
import { encodeGuestConfig } from '../microvm/guest-config.js';
import { buildInitramfs, moduleGuestPath } from '../microvm/initramfs.js';
import { QemuHypervisor } from '../microvm/qemu.js';
import { guestInitPath, planVmResources } from '../microvm/resources.js';
import { buildExt4Image, chooseRootfsMode, parseRootfsMode } from '../microvm/rootfs-image.js';
import { StateStore, creatingRecord, type ContainerRecord } from './state-store.js';
import { readProcStat } from './process-info.js';
import { openContainerCgroup, type ContainerCgroup } from './container-cgroup.js';
import { killAndReap } from './signals.js';
import type { CreateOptions, CreatedContainer } from './create.js';
import type { StageProcess } from './stage/client.js';
import { MessageWriter, MsgType, Tag } from './stage/protocol.js';

export { ISOLATION_ANNOTATION, isVmSpec } from './vm-spec.js';
import { isVmSpec } from './vm-spec.js';

const CONTROL_PORT = 'kapsel';
/** virtio-pci transport + the control channel's virtio-serial port; virtio_blk for vm.image. */
const BASE_MODULES = ['virtio_pci', 'virtio_console'];

/** A container created by createVmContainer (its pid is kapsel-vmm, not a process in namespaces). */
export function isVmRecord(record: ContainerRecord): boolean {
  return record.annotations['run.kapsel.vm.supervisor'] === 'kapsel-vmm';
}

function setting(spec: Spec, annotation: string, env: string): string | undefined {
  return spec.annotations?.[annotation] ?? process.env[env];
}

export function createVmContainer(sys: Syscalls, store: StateStore, opts: CreateOptions, spec: Spec, bundle: string, rootfs: string, log: Logger): CreatedContainer {
  const proc = spec.process!;
  if (proc.terminal) throw new KapselError('ERR_UNSUPPORTED', 'VM containers do not support process.terminal yet', { hint: 'run without -t' });
  if ((opts.preserveFds ?? 0) > 0) throw new KapselError('ERR_UNSUPPORTED', 'VM containers cannot receive --preserve-fds');
  const linux = spec.linux ?? {};
  const accel: AcceleratorInfo = detectAccelerator(setting(spec, 'run.kapsel.vm.accelerator', 'KAPSEL_VM_ACCELERATOR'));
  const kernel = findKernel(spec.vm?.kernel.path ?? setting(spec, 'run.kapsel.vm.kernel', 'KAPSEL_VM_KERNEL'));
  const hypervisor = new QemuHypervisor(spec.vm?.hypervisor?.path ?? setting(spec, 'run.kapsel.vm.hypervisor', 'KAPSEL_VM_HYPERVISOR'));
  const rootfsMode = spec.vm?.image !== undefined ? 'ext4' : chooseRootfsMode(parseRootfsMode(setting(spec, 'run.kapsel.vm.rootfs', 'KAPSEL_VM_ROOTFS')), rootfs);
  const modules = guestModules(kernel.modulesDir, rootfsMode === 'ext4' ? [...BASE_MODULES, 'virtio_blk'] : BASE_MODULES);
  const res = planVmResources(linux.resources, accel.accelerator);

  store.claim(opts.id);
  const dir = store.dir(opts.id);
  const record = creatingRecord(opts.id, bundle, rootfs, spec, {
    annotations: {
      ...(spec.annotations ?? {}),
      'run.kapsel.vm.supervisor': 'kapsel-vmm',
      'run.kapsel.vm.accelerator': accel.accelerator,
      'run.kapsel.vm.note': accel.note,
      'run.kapsel.vm.kernel': kernel.path,
      'run.kapsel.vm.vcpus': String(res.vcpus),
      'run.kapsel.vm.memory-mib': String(res.memoryMiB),
      'run.kapsel.vm.rootfs': rootfsMode,
    },
    namespaceTypes: [],
    sharedPidNamespace: false,
  });
  let cgroup: ContainerCgroup | undefined;
  try {
    store.write(record);
    const t0 = performance.now();
    let image = spec.vm?.image;
    if (image === undefined && rootfsMode === 'ext4') {
      image = { path: join(dir, 'rootfs.ext4'), format: 'raw' };
      buildExt4Image(rootfs, image.path);
      log.debug(`vm ${opts.id}: ext4 image of the rootfs in ${(performance.now() - t0).toFixed(1)}ms`);
    }
    const config = encodeGuestConfig({
      args: proc.args ?? [],
      env: proc.env ?? [],
      cwd: proc.cwd,
      uid: proc.user.uid,
      gid: proc.user.gid,
      ...(proc.user.additionalGids !== undefined ? { additionalGids: proc.user.additionalGids } : {}),
      ...(proc.user.umask !== undefined ? { umask: proc.user.umask } : {}),
      ...(spec.hostname !== undefined ? { hostname: spec.hostname } : {}),
      modules: modules.map(moduleGuestPath),
      root: '/rootfs',
      ...(image !== undefined ? { blockdev: '/dev/vda', fstype: setting(spec, 'run.kapsel.vm.fstype', 'KAPSEL_VM_FSTYPE') ?? 'ext4' } : {}),
      port: CONTROL_PORT,
    });
    const initrd = join(dir, 'initrd.img');
    const built = buildInitramfs({
      init: guestInitPath(),
      config,
      modules,
      ...(image === undefined ? { rootfsDir: rootfs } : {}),
      ...(spec.vm?.kernel.initrd !== undefined ? { prepend: spec.vm.kernel.initrd } : {}),
      compression: setting(spec, 'run.kapsel.vm.initrd-compression', 'KAPSEL_VM_INITRD_COMPRESSION') === 'gzip' ? 'gzip' : 'none',
    }, initrd);
    log.debug(`vm ${opts.id}: initramfs ${built.bytes} bytes in ${(performance.now() - t0).toFixed(1)}ms; ${accel.note}`);
    const vm = hypervisor.prepare({
      kernel: kernel.path,
      initrd,
      cmdline: ['console=ttyS0', 'quiet', 'panic=-1', 'rdinit=/init', ...(spec.vm?.kernel.parameters ?? [])].join(' '),
      vcpus: res.vcpus,
      memoryMiB: res.memoryMiB,
      accelerator: accel,
      disks: image !== undefined ? [{ path: image.path, format: image.format, readOnly: false }] : [],
      log: join(dir, 'vm.log'),
      controlPort: CONTROL_PORT,
      ...(spec.vm?.hypervisor?.parameters !== undefined ? { extraArgs: spec.vm.hypervisor.parameters } : {}),
    });

    sys.mkfifo(store.fifoPath(opts.id), 0o622);
    chmodSync(store.fifoPath(opts.id), 0o622);
    // The VMM's resources, not the guest's devices: QEMU opens /dev/kvm, so no device rules.
    cgroup = openContainerCgroup(record.cgroupsPath, opts.id, opts.callerPid);
    cgroup.create();
    const { devices: _devices, ...resources } = linux.resources ?? {};
    cgroup.apply(resources);
    record.cgroupPaths = cgroup.paths();
    store.write(record);
    // kapsel-vmm's first process exits once the VMM runs; we adopt the supervisor (run waits for it)
    sys.prctl(PR_SET_CHILD_SUBREAPER, 1);
    const spawnStage = opts.spawnStage;
    const pid = hypervisor.boot(vm, {
      fifo: store.fifoPath(opts.id),
      pidFile: join(dir, 'vmm.pid'),
      cgroupProcs: Object.values(record.cgroupPaths).map((p) => join(p, 'cgroup.procs')),
      // the kapsel engine: its monitor's stage runs kapsel-vmm, so the supervisor (the
      // container's pid) is re-parented to the monitor, which reaps it and records the exit
      ...(spawnStage !== undefined ? { run: (argv: readonly string[]) => runInStage(spawnStage(), argv) } : {}),
    });
    record.pid = pid;
    record.pidStartTime = readProcStat(pid)?.startTime ?? '';
    record.phase = 'created';
    store.write(record);
    log.debug(`vm ${opts.id}: kapsel-vmm pid ${pid}, ${res.vcpus} vCPU, ${res.memoryMiB} MiB, ${accel.note}`);
    if (opts.pidFile !== undefined) writePid(opts.pidFile, pid);
    return { record, pid, stage: undefined };
  } catch (err) {
    if (record.pid !== 0) killAndReap(sys, record.pid, record.pidStartTime, opts.reapInit);
    try {
      cgroup?.destroySync();
    } catch (undoErr) {
      log.warn(`cleanup after failed create of ${opts.id}: ${(undoErr as Error).message}`);
    }
    store.remove(opts.id);
    throw err;
  }
}

function runInStage(stage: StageProcess, argv: readonly string[]): number {
  try {
    const w = new MessageWriter(MsgType.SPAWN);
    for (const a of argv) w.str(Tag.ARG, a);
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) w.str(Tag.ENV, `${k}=${v}`);
    stage.send(w.finish());
    return stage.expect(MsgType.EXITED).payload.readUInt32LE(0);
  } finally {
    stage.close();
  }
}

function writePid(path: string, pid: number): void {
  // as create.ts does: digits only, written atomically
  const target = resolve(path);
  const tmp = join(dirname(target), `.${process.pid}.pid`);
  writeFileSync(tmp, String(pid));
  renameSync(tmp, target);
}
