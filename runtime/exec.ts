/**
 * `exec`: run another process in a running container (runc exec). The native stage joins every
 * namespace of the container's init (user first, mount last) and forks, so the process is inside
 * the container's pid namespace; the runtime moves it into the container's cgroups and applies
 * the same kind of process plan as create: credentials, capabilities, rlimits, seccomp.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { PR_SET_CHILD_SUBREAPER } from '../sys/constants.js';
import type { Syscalls } from '../sys/syscalls.js';
import { compileSeccomp } from '../sys/seccomp.js';
import { formatViolations, validateSpec } from '../oci/validate.js';
import type { NamespaceType, Process } from '../oci/runtime-spec.js';
import { NAMESPACE_FLAGS, NAMESPACE_PROC_NAMES } from '../namespaces/plan.js';
import { inNamespaces } from '../namespaces/enter.js';
import { planProcess } from './process-plan.js';
import { StageProcess } from './stage/client.js';
import { MessageWriter, MsgType, Tag } from './stage/protocol.js';
import type { StateStore } from './state-store.js';
import { containerStatus } from './status.js';
import { finalizeMessage, loadBundleSpec } from './create.js';
import { sendConsole } from './console.js';
import { lastCap } from './host.js';
import { openInRoot } from './rootfs/in-root.js';
import { O_NOCTTY, O_RDWR, O_PATH, O_DIRECTORY, O_CLOEXEC, TIOCGPTN, TIOCSPTLCK } from '../sys/constants.js';
import { killAndReap, waitForwardingSignals } from './signals.js';
import { readProcStat } from './process-info.js';
import { isVmRecord } from './vm-container.js';

export interface ExecOptions {
  readonly id: string;
  /** A runtime-spec Process (from --process FILE), or undefined to build one from the flags. */
  readonly process?: Process | undefined;
  readonly args?: readonly string[];
  readonly cwd?: string | undefined;
  readonly env?: readonly string[];
  /** `uid[:gid]` */
  readonly user?: string | undefined;
  readonly additionalGids?: readonly number[];
  readonly caps?: readonly string[];
  readonly noNewPrivs?: boolean;
  readonly tty?: boolean;
  /** The terminal's size for --tty (runtime-spec process.consoleSize; kapsel exec -t passes the caller's). */
  readonly consoleSize?: { readonly height: number; readonly width: number } | undefined;
  readonly consoleSocket?: string | undefined;
  readonly detach?: boolean;
  readonly pidFile?: string | undefined;
  readonly preserveFds?: number;
  /** Starts the stage another way (the front of `kapsel-runtime daemon` forks it). */
  readonly spawnStage?: () => StageProcess;
  /** Reaps the killed process of a failed exec when another process is its subreaper. */
  readonly reapChild?: (pid: number) => void;
}

/** The process to exec: --process wins; otherwise the container's process with the flags applied. */
export function execProcess(base: Process, opts: ExecOptions): Process {
  if (opts.process !== undefined) return opts.process;
  if (opts.args === undefined || opts.args.length === 0) throw new KapselError('ERR_USAGE', 'exec needs a command (arguments or --process FILE)');
  const p: Process = { ...base, args: [...opts.args], terminal: opts.tty === true };
  delete p.consoleSize;
  if (opts.tty === true && opts.consoleSize !== undefined) p.consoleSize = { ...opts.consoleSize };
  if (opts.cwd !== undefined) p.cwd = opts.cwd;
  if (opts.env !== undefined && opts.env.length > 0) {
    // later values win, as in runc: flags override the container's env by name
    const env = new Map((base.env ?? []).map((e) => [e.split('=')[0] ?? e, e] as const));
    for (const e of opts.env) env.set(e.split('=')[0] ?? e, e);
    p.env = [...env.values()];
  }
  if (opts.user !== undefined) {
    const m = /^(\d+)(?::(\d+))?$/.exec(opts.user);
    if (!m) throw new KapselError('ERR_USAGE', `invalid --user \`${opts.user}\`: use UID[:GID]`);
    p.user = { ...base.user, uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : base.user.gid };
  }
  if (opts.additionalGids !== undefined && opts.additionalGids.length > 0) p.user = { ...p.user, additionalGids: [...opts.additionalGids] };
  if (opts.caps !== undefined && opts.caps.length > 0) {
    const c = base.capabilities ?? {};
    const add = (set: string[] | undefined): string[] => [...new Set([...(set ?? []), ...(opts.caps ?? [])])];
    p.capabilities = { bounding: add(c.bounding), effective: add(c.effective), permitted: add(c.permitted), inheritable: add(c.inheritable), ambient: add(c.ambient) };
  }
  if (opts.noNewPrivs === true) p.noNewPrivileges = true;
  return p;
}

/** Opens a new pty in the container's devpts: [master, slave]. */
function containerPty(sys: Syscalls, pid: number, types: readonly NamespaceType[]): { master: number; slave: number } {
  return inNamespaces(sys, pid, types.filter((t) => t === 'mount'), () => {
    const root = sys.open('/', O_PATH | O_DIRECTORY | O_CLOEXEC);
    try {
      const master = openInRoot(sys, root, '/dev/pts/ptmx', O_RDWR | O_NOCTTY);
      sys.ioctlInt(master, TIOCSPTLCK, 0);
      const n = sys.ioctlInt(master, TIOCGPTN, 0);
      return { master, slave: openInRoot(sys, root, `/dev/pts/${n}`, O_RDWR | O_NOCTTY) };
    } finally {
      sys.close(root);
    }
  });
}

/** Returns the exit status (0 with --detach). */
export async function execInContainer(sys: Syscalls, store: StateStore, opts: ExecOptions, log: Logger): Promise<number> {
  const pid = startExec(sys, store, opts, log);
  if (opts.detach) return 0;
  return waitForwardingSignals(sys, pid);
}

/**
 * Starts the process (running, its pid file written) and returns its pid; it is our child when
 * we started the stage, else the child of whoever did (the daemon's front), who waits for it.
 */
export function startExec(sys: Syscalls, store: StateStore, opts: ExecOptions, log: Logger): number {
  const record = store.read(opts.id);
  // the container's pid is kapsel-vmm on the host: joining its namespaces would run on the host
  if (isVmRecord(record)) throw new KapselError('ERR_UNSUPPORTED', `exec into VM container ${opts.id} is not supported yet`);
  const status = containerStatus(store, record);
  if (status === 'stopped') throw new KapselError('ERR_STATE', 'cannot exec in a stopped container');
  if (status === 'paused') throw new KapselError('ERR_STATE', 'cannot exec in a paused container');
  if (status === 'creating') throw new KapselError('ERR_STATE', 'cannot exec in a container that is being created');
  const spec = loadBundleSpec(record.bundle);
  const proc = execProcess(spec.process!, opts);
  if (proc.apparmorProfile || proc.selinuxLabel) throw new KapselError('ERR_UNSUPPORTED', 'apparmor/selinux labels requested but this host has neither');
  if (proc.terminal && opts.consoleSocket === undefined) {
    throw new KapselError('ERR_USAGE', 'exec --tty needs --console-socket', { hint: 'pass --console-socket PATH (containerd and podman do)' });
  }
  const plan = planProcess(proc, { lastCap: lastCap(), setgroupsAllowed: true });
  const seccomp = spec.linux?.seccomp ? compileSeccomp(spec.linux.seccomp) : undefined;
  const types = record.namespaceTypes as NamespaceType[];

  const bootstrap = new MessageWriter(MsgType.BOOTSTRAP).u32(Tag.CLONE_FLAGS, 0);
  if (proc.terminal) bootstrap.flag(Tag.SETSID);
  for (const t of types) bootstrap.join(NAMESPACE_FLAGS[t], `/proc/${record.pid}/ns/${NAMESPACE_PROC_NAMES[t]}`);

  sys.prctl(PR_SET_CHILD_SUBREAPER, 1);
  const stage = opts.spawnStage?.() ?? StageProcess.spawn(sys, { stdio: ['inherit', 'inherit', 'inherit'], preserveFds: opts.preserveFds ?? 0 });
  let pid = 0;
  const fds: number[] = [];
  try {
    stage.send(bootstrap.finish());
    pid = stage.expect(MsgType.PID).payload.readUInt32LE(0);
    // the process joins every cgroup of the container before it runs anything
    for (const dir of Object.values(record.cgroupPaths)) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
    for (const r of plan.rlimits) sys.prlimit(pid, r.resource, r.soft, r.hard);
    if (plan.oomScoreAdj !== undefined) writeFileSync(`/proc/${pid}/oom_score_adj`, String(plan.oomScoreAdj));
    let tty: number | undefined;
    if (proc.terminal) {
      const pty = containerPty(sys, record.pid, types);
      fds.push(pty.slave);
      if (proc.consoleSize !== undefined) {
        // struct winsize { u16 ws_row, ws_col, ws_xpixel, ws_ypixel }: set before the process runs
        const ws = Buffer.alloc(8);
        ws.writeUInt16LE(proc.consoleSize.height, 0);
        ws.writeUInt16LE(proc.consoleSize.width, 2);
        sys.ioctlBuffer(pty.master, 0x5414 /* TIOCSWINSZ */, ws);
      }
      tty = pty.slave;
      try {
        sendConsole(sys, opts.consoleSocket!, pty.master);
      } finally {
        sys.close(pty.master);
      }
    }
    const fin = finalizeMessage(plan, seccomp ? { bpf: seccomp.bpf, flags: seccomp.filterFlags } : undefined, opts.preserveFds ?? 0, { fifo: undefined, tty, root: undefined }, lastCap());
    stage.send(fin.message, fin.fds);
    stage.expect(MsgType.READY);
  } catch (err) {
    if (pid > 0) killAndReap(sys, pid, readProcStat(pid)?.startTime ?? '', opts.reapChild);
    throw err;
  } finally {
    stage.close();
    for (const fd of fds) sys.close(fd);
  }
  if (opts.pidFile !== undefined) writeFileSync(opts.pidFile, String(pid));
  log.debug(`exec: process ${pid} in container ${opts.id}`);
  return pid;
}

/** Reads and validates a runtime-spec Process from a file or `-` (stdin). */
export function readProcessFile(path: string): Process {
  const text = readFileSync(path === '-' ? 0 : path, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new KapselError('ERR_USAGE', `--process \`${path}\`: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  const violations = validateSpec({ ociVersion: '1.2.0', root: { path: 'rootfs' }, process: value }, { requireProcess: true })
    .filter((v) => v.path.startsWith('$.process'));
  if (violations.length > 0) {
    throw new KapselError('ERR_CONFIG_INVALID', `--process \`${path}\` is not a valid process:\n${formatViolations(violations)}`);
  }
  return value as Process;
}
