/**
 * `create` (runtime-spec runtime.md "Create"): from a bundle to a container whose init waits on
 * the exec fifo. The order follows runtime.md "Lifecycle" steps 1-6:
 *
 *   validate config -> claim id -> spawn stage (namespaces) -> sync 1 id maps -> sync 2 init pid
 *   -> cgroups -> rlimits, oom score -> prestart/createRuntime hooks -> hostname, lo up, sysctl
 *   -> rootfs in the container's mount namespace (createContainer hooks before pivot_root)
 *   -> sync 3 finalize (credentials, capabilities, seccomp) -> state `created`, pid file
 *
 * Any failure undoes everything done so far: the init is killed, the cgroup and the state
 * directory are removed, and every fd is closed.
 */
import { chmodSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { KapselError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { CLONE_NEWNET, O_CLOEXEC, O_PATH, PR_SET_CHILD_SUBREAPER } from '../sys/constants.js';
import type { Syscalls } from '../sys/syscalls.js';
import { compileSeccomp } from '../sys/seccomp.js';
import { parseSpec } from '../oci/validate.js';
import type { Hook, Spec, State } from '../oci/runtime-spec.js';
import { ociState } from './oci-state.js';
import { planNamespaces, toHostId, type NamespacePlan } from '../namespaces/plan.js';
import { inNamespaces } from '../namespaces/enter.js';
import { planProcess, type ProcessPlan } from './process-plan.js';
import { planRootfs } from './rootfs/plan.js';
import { applyRootfs } from './rootfs/apply.js';
import { StageProcess } from './stage/client.js';
import { MessageWriter, MsgType, Tag } from './stage/protocol.js';
import { StateStore, creatingRecord, type ContainerRecord } from './state-store.js';
import { readProcStat } from './process-info.js';
import { runHooks } from './hooks.js';
import { openContainerCgroup, type ContainerCgroup } from './container-cgroup.js';
import { sendConsole } from './console.js';
import { killAndReap } from './signals.js';
import { lastCap } from './host.js';
import { effectiveDeviceRules } from './device-rules.js';
import { bringLoopbackUp } from './loopback.js';
import { createVmContainer, isVmSpec } from './vm-container.js';

export interface CreateOptions {
  readonly id: string;
  readonly bundle: string;
  readonly pidFile?: string | undefined;
  readonly consoleSocket?: string | undefined;
  readonly noPivot?: boolean;
  readonly noNewKeyring?: boolean;
  readonly preserveFds?: number;
  /** Starts the stage another way (kapsel's monitor execs it: StageProcess.adopt). */
  readonly spawnStage?: () => StageProcess;
  /**
   * Reaps the killed init of a failed create when another process is its subreaper (the
   * front of `kapsel-runtime daemon`): a zombie holds its cgroup.
   */
  readonly reapInit?: (pid: number) => void;
  /** The caller's pid: a relative cgroupsPath is relative to its cgroup (default: ours). */
  readonly callerPid?: number | undefined;
}

export interface CreatedContainer {
  readonly record: ContainerRecord;
  readonly pid: number;
  /** The stage's child process handle, while `run` waits (none for a VM container). */
  readonly stage: StageProcess | undefined;
}

export function loadBundleSpec(bundle: string): Spec {
  const path = join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KapselError('ERR_CONFIG_MISSING', `read \`${path}\`: ${(err as Error).message}`, { cause: err });
  }
  return parseSpec(text, path, { requireProcess: true });
}

export { ociState };

function bootstrapMessage(ns: NamespacePlan): Buffer {
  const w = new MessageWriter(MsgType.BOOTSTRAP).u32(Tag.CLONE_FLAGS, ns.cloneFlags).flag(Tag.SETSID);
  if (ns.syncAfterUnshare) w.flag(Tag.SYNC_UNSHARE);
  for (const j of ns.joins) w.join(j.nstype, j.path);
  return w.finish();
}

interface FinalizeFds {
  readonly fifo: number | undefined;
  readonly tty: number | undefined;
  readonly root: number | undefined;
}

export interface StartHooks {
  readonly hooks: readonly Hook[];
  readonly state: State;
}

export function finalizeMessage(p: ProcessPlan, seccomp: { bpf: Buffer; flags: number } | undefined, preserveFds: number, fds: FinalizeFds, last: number, startHooks?: StartHooks, keyring?: string): { message: Buffer; fds: number[] } {
  const w = new MessageWriter(MsgType.FINALIZE)
    .str(Tag.CWD, p.cwd)
    .u32(Tag.UID, p.uid)
    .u32(Tag.GID, p.gid)
    .u64Array(Tag.CAPS, [p.caps.bounding, p.caps.effective, p.caps.permitted, p.caps.inheritable, p.caps.ambient])
    .u32(Tag.LAST_CAP, last)
    .u32(Tag.PRESERVE_FDS, preserveFds);
  if (p.additionalGids !== undefined) w.u32Array(Tag.GIDS, p.additionalGids);
  if (p.umask !== undefined) w.u32(Tag.UMASK, p.umask);
  if (p.noNewPrivileges) w.flag(Tag.NNP);
  if (keyring !== undefined) w.str(Tag.KEYRING, keyring);
  if (seccomp !== undefined) w.bytes(Tag.SECCOMP, seccomp.bpf).u32(Tag.SECCOMP_FLAGS, seccomp.flags);
  for (const a of p.args) w.str(Tag.ARG, a);
  for (const e of p.env) w.str(Tag.ENV, e);
  if (startHooks !== undefined && startHooks.hooks.length > 0) {
    w.bytes(Tag.HOOK_STATE, Buffer.from(JSON.stringify(startHooks.state)));
    for (const h of startHooks.hooks) {
      w.str(Tag.HOOK_PATH, h.path);
      for (const a of h.args ?? []) w.str(Tag.HOOK_ARG, a);
      for (const e of h.env ?? []) w.str(Tag.HOOK_ENV, e);
      if (h.timeout !== undefined) w.u32(Tag.HOOK_TIMEOUT, h.timeout);
    }
  }
  const passed: number[] = [];
  const attach = (tag: number, fd: number | undefined): void => {
    if (fd === undefined) return;
    w.u32(tag, passed.length);
    passed.push(fd);
  };
  attach(Tag.FD_FIFO, fds.fifo);
  attach(Tag.FD_TTY, fds.tty);
  attach(Tag.FD_ROOT, fds.root);
  return { message: w.finish(), fds: passed };
}

function writeIdMaps(pid: number, ns: NamespacePlan): void {
  const write = (file: string, text: string): void => {
    try {
      writeFileSync(`/proc/${pid}/${file}`, text);
    } catch (err) {
      throw new KapselError('ERR_NAMESPACE', `write ${file} of the container: ${(err as Error).message}`, { cause: err });
    }
  };
  if (ns.timeOffsets !== undefined) write('timens_offsets', ns.timeOffsets);
  if (ns.uidMap !== undefined) write('uid_map', ns.uidMap);
  if (ns.gidMap !== undefined) write('gid_map', ns.gidMap);
}

function sysctlPath(key: string): string {
  if (key.includes('/') || key.includes('..')) throw new KapselError('ERR_CONFIG_INVALID', `invalid sysctl key \`${key}\``);
  return `/proc/sys/${key.replaceAll('.', '/')}`;
}

function writePidFile(path: string, pid: number): void {
  // Digits only, no newline (containerd rejects one), written atomically next to the target.
  const tmp = join(dirname(path), `.${process.pid}.pid`);
  writeFileSync(tmp, String(pid));
  renameSync(tmp, path);
}

export function createContainer(sys: Syscalls, store: StateStore, opts: CreateOptions, log: Logger): CreatedContainer {
  const bundle = resolve(opts.bundle);
  const spec = loadBundleSpec(bundle);
  const process_ = spec.process!;
  const linux = spec.linux ?? {};
  const rootPath = spec.root?.path ?? 'rootfs';
  const rootfs = isAbsolute(rootPath) ? rootPath : join(bundle, rootPath);
  if (isVmSpec(spec)) return createVmContainer(sys, store, opts, spec, bundle, rootfs, log);
  const ns = planNamespaces(linux.namespaces ?? [], linux.uidMappings, linux.gidMappings, linux.timeOffsets);
  const inUserNs = ns.types.has('user');
  const last = lastCap();
  const procPlan = planProcess(process_, { lastCap: last, setgroupsAllowed: true });
  const rootfsPlan = planRootfs(spec, {
    bundle,
    rootfs,
    newMountNamespace: ns.types.has('mount'),
    newUserNamespace: inUserNs,
    noPivot: opts.noPivot === true,
  });
  const seccomp = linux.seccomp ? compileSeccomp(linux.seccomp) : undefined;
  if (seccomp?.needsNotify) throw new KapselError('ERR_UNSUPPORTED', 'seccomp SCMP_ACT_NOTIFY is not supported yet');
  if (process_.apparmorProfile) throw new KapselError('ERR_UNSUPPORTED', `apparmor profile \`${process_.apparmorProfile}\` requested but AppArmor is not enabled on this host`);
  if (process_.selinuxLabel) throw new KapselError('ERR_UNSUPPORTED', `selinux label requested but SELinux is not enabled on this host`);
  if (procPlan.terminal && opts.consoleSocket === undefined) {
    throw new KapselError('ERR_USAGE', 'process.terminal is true: --console-socket is required', { hint: 'pass --console-socket PATH, or set terminal to false' });
  }

  store.claim(opts.id);
  const record = creatingRecord(opts.id, bundle, rootfs, spec, {
    annotations: spec.annotations ?? {},
    namespaceTypes: [...ns.types],
    sharedPidNamespace: !ns.types.has('pid'),
  });
  const cleanup: (() => void)[] = [() => store.remove(opts.id)];
  const openFds: number[] = [];
  let stage: StageProcess | undefined;
  let cgroup: ContainerCgroup | undefined;
  try {
    store.write(record);
    sys.mkfifo(store.fifoPath(opts.id), 0o622);
    // Whatever the runtime's umask: a container user other than root must open it for writing.
    chmodSync(store.fifoPath(opts.id), 0o622);
    const fifoFd = sys.open(store.fifoPath(opts.id), O_PATH | O_CLOEXEC);
    openFds.push(fifoFd);

    // sync 1 and 2: namespaces, id maps, the init's pid. As a subreaper we inherit the init
    // when the stage's first process exits, so a failed create can reap what it killed; when
    // we exit, the init passes on to the caller's subreaper (containerd shim, conmon).
    sys.prctl(PR_SET_CHILD_SUBREAPER, 1);
    const t0 = performance.now();
    const s = opts.spawnStage?.() ?? StageProcess.spawn(sys, { stdio: ['inherit', 'inherit', 'inherit'], preserveFds: opts.preserveFds ?? 0 });
    stage = s;
    cleanup.push(() => s.close());
    s.send(bootstrapMessage(ns));
    if (ns.syncAfterUnshare) {
      const unshared = s.expect(MsgType.UNSHARED);
      writeIdMaps(unshared.payload.readUInt32LE(0), ns);
      s.send(new MessageWriter(MsgType.CONTINUE).finish());
    }
    const pid = s.expect(MsgType.PID).payload.readUInt32LE(0);
    record.pid = pid;
    record.pidStartTime = readProcStat(pid)?.startTime ?? '';
    cleanup.push(() => killAndReap(sys, pid, record.pidStartTime, opts.reapInit));
    log.debug(`stage: namespaces and init pid ${pid} in ${(performance.now() - t0).toFixed(1)}ms`);

    // cgroups: the init joins before anything runs inside
    cgroup = openContainerCgroup(record.cgroupsPath, opts.id, opts.callerPid);
    const cg = cgroup;
    cg.create();
    cleanup.push(() => {
      // the init first: a cgroup with a live (or unreaped) process cannot be removed
      killAndReap(sys, pid, record.pidStartTime, opts.reapInit);
      cg.destroySync();
    });
    cg.join(pid);
    // Device rules always apply: without a devices list the container still gets only the
    // devices it needs (runc does the same).
    cg.apply({ ...(linux.resources ?? {}), devices: effectiveDeviceRules(linux.resources?.devices, linux.devices) });
    record.cgroupPaths = cg.paths();
    store.write(record);

    for (const r of procPlan.rlimits) sys.prlimit(pid, r.resource, r.soft, r.hard);
    if (procPlan.oomScoreAdj !== undefined) writeFileSync(`/proc/${pid}/oom_score_adj`, String(procPlan.oomScoreAdj));

    // prestart hooks see "created" (runtime-tools' hooks_stdin checks it, as crun does); the
    // create-time hooks of runtime-spec 1.0.2+ see "creating".
    const creating = ociState(record, 'creating');
    runHooks('prestart', spec.hooks?.prestart, ociState(record, 'created'));
    runHooks('createRuntime', spec.hooks?.createRuntime, creating);

    const t1 = performance.now();
    inNamespaces(sys, pid, ['uts', 'network', 'ipc'].filter((t) => ns.types.has(t as never)) as never, () => {
      if (spec.hostname !== undefined) sys.sethostname(spec.hostname);
      if (spec.domainname !== undefined) sys.setdomainname(spec.domainname);
      if ((ns.cloneFlags & CLONE_NEWNET) !== 0) {
        try {
          bringLoopbackUp(sys);
        } catch (err) {
          throw new KapselError('ERR_NAMESPACE', `bring up the loopback interface of the container's network namespace: ${(err as Error).message}`, { cause: err });
        }
      }
      for (const [key, value] of Object.entries(linux.sysctl ?? {})) {
        try {
          writeFileSync(sysctlPath(key), value);
        } catch (err) {
          throw new KapselError('ERR_SYSCTL', `set sysctl \`${key}\` to \`${value}\`: ${(err as Error).message}`, { cause: err });
        }
      }
    });

    const nsForRootfs = (['mount', 'network', 'ipc', 'uts', 'cgroup'] as const).filter((t) => ns.types.has(t));
    const oldUmask = process.umask(0);
    // In a user namespace, files this thread creates on filesystems the container owns (its
    // tmpfs /dev) must belong to an id mapped there: the thread acts as the container's root
    // (setfsuid is per thread), as runc's init does from inside the namespace.
    const fsUid = toHostId(0, linux.uidMappings ?? []);
    const fsGid = toHostId(0, linux.gidMappings ?? []);
    let rootResult;
    try {
      rootResult = inNamespaces(sys, pid, nsForRootfs, () => {
        if (inUserNs) {
          sys.setfsgid(fsGid);
          sys.setfsuid(fsUid);
        }
        try {
          return applyRootfs(
            {
              sys,
              fsopenInContainer: (type) => s.fsopen(type),
              cgroupHierarchies: cg.mountHierarchies(),
              cgroupNamespace: ns.types.has('cgroup'),
            },
            rootfsPlan,
            inUserNs,
            () => runHooks('createContainer', spec.hooks?.createContainer, creating),
          );
        } finally {
          if (inUserNs) {
            sys.setfsuid(0);
            sys.setfsgid(0);
          }
        }
      });
    } finally {
      process.umask(oldUmask);
    }
    const { rootFd, console } = rootResult;
    if (rootFd !== undefined) openFds.push(rootFd);
    if (console !== undefined) {
      openFds.push(console.slave);
      try {
        if (opts.consoleSocket !== undefined) sendConsole(sys, opts.consoleSocket, console.master);
      } finally {
        sys.close(console.master);
      }
    }
    log.debug(`rootfs ready in ${(performance.now() - t1).toFixed(1)}ms (switch root: ${rootfsPlan.switchRoot})`);

    // sync 3: credentials, capabilities, seccomp; the init then waits on the fifo
    const fin = finalizeMessage(procPlan, seccomp ? { bpf: seccomp.bpf, flags: seccomp.filterFlags } : undefined, opts.preserveFds ?? 0, { fifo: fifoFd, tty: console?.slave, root: rootFd }, last, { hooks: spec.hooks?.startContainer ?? [], state: ociState(record, 'created') }, opts.noNewKeyring ? undefined : opts.id);
    s.send(fin.message, fin.fds);
    s.expect(MsgType.READY);
    s.close();

    record.phase = 'created';
    store.write(record);
    if (opts.pidFile !== undefined) writePidFile(resolve(opts.pidFile), pid);
    return { record, pid, stage: s };
  } catch (err) {
    for (const undo of cleanup.reverse()) {
      try {
        undo();
      } catch (undoErr) {
        log.warn(`cleanup after failed create of ${opts.id}: ${(undoErr as Error).message}`);
      }
    }
    throw err;
  } finally {
    for (const fd of openFds) sys.close(fd);
  }
}
