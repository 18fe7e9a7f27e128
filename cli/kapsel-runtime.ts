#!/usr/bin/env node
/**
 * kapsel-runtime: the OCI runtime with runc's command line. The only code that reads argv,
 * prints and exits; each verb calls the runtime library. Command modules load lazily so each
 * invocation pays only for what it uses (start-up cost is the performance problem).
 */
import { readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KapselError } from '../common/errors.js';
import { PR_SET_PDEATHSIG } from '../sys/constants.js';
import { createLogger, type Logger } from '../common/log.js';
import { mark as markOn, nowMs, restartTimeline } from '../common/timeline.js';
import { exitCodeFor, formatError } from './errors.js';
import type { DaemonJob, DaemonOutcome, FrontLink } from './runtime-daemon.js';
import type { Spec } from '../oci/runtime-spec.js';
import type { Syscalls } from '../sys/syscalls.js';
import { parseFastArgv, parseFastGlobals, type CreateArgv, type FastArgv, type FastCommand, type RuntimeGlobals as GlobalArgs } from './runtime-argv.js';

const VERSION = '0.1.0';

let logger: Logger = createLogger();

/** A stage of this invocation's `--debug` timeline (common/timeline.ts). */
function mark(what: string, now?: number): void {
  markOn(logger, what, now);
}

/** Writes to fd 1 itself: the first use of process.stdout loads Node's stream modules (~4 ms). */
function printOut(text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(1, buf, off);
  } catch (err) {
    // a non-blocking pipe that is full: let the stream wait for it
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    process.stdout.write(buf.subarray(off));
  }
}

export async function runtime() {
  const [{ linuxSyscalls }, { StateStore }] = await Promise.all([
    import('../sys/linux-syscalls.js'),
    import('../runtime/state-store.js'),
  ]);
  return { linuxSyscalls, StateStore };
}

async function deleteDeps() {
  const { destroyRecordedCgroup } = await import('../runtime/cgroup-cleanup.js');
  return { destroyCgroup: destroyRecordedCgroup };
}

function setup(argv: GlobalArgs): void {
  logger = createLogger({ file: argv.log, format: argv['log-format'], debug: argv.debug });
  if (argv['systemd-cgroup']) {
    throw new KapselError('ERR_UNSUPPORTED', 'the systemd cgroup driver is not supported yet', {
      hint: 'drop --systemd-cgroup (SystemdCgroup = false in containerd) to use cgroupfs',
    });
  }
}

export type CreateArgs = Omit<CreateArgv, 'id'> & { id?: string };

function toCreateOptions(argv: CreateArgs) {
  return {
    id: argv.id as string,
    bundle: argv.bundle,
    pidFile: argv['pid-file'],
    consoleSocket: argv['console-socket'],
    noPivot: argv['no-pivot'],
    noNewKeyring: argv['no-new-keyring'],
    preserveFds: argv['preserve-fds'],
  };
}

const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--criu', '--rootless']);

/** Index of the subcommand in argv (after global options), or -1. */
function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i] ?? '';
    if (GLOBAL_WITH_VALUE.has(t)) { i++; continue; }
    if (!t.startsWith('-')) return i;
  }
  return -1;
}

/** Global options of an `exec` command line: the fast parser, else yargs. */
async function execGlobals(argv: readonly string[]): Promise<GlobalArgs> {
  const fast = parseFastGlobals(argv);
  if (fast !== undefined) return fast;
  const { parseGlobals } = await import('./runtime-yargs.js');
  return parseGlobals(argv);
}

type ExecArgs = ReturnType<typeof import('./exec-args.js').parseExecArgs>;

async function execOptions(a: ExecArgs) {
  if (a.apparmor !== undefined || a.processLabel !== undefined) {
    throw new KapselError('ERR_UNSUPPORTED', 'apparmor/selinux labels requested but this host has neither');
  }
  const { readProcessFile } = await import('../runtime/exec.js');
  return {
    id: a.id,
    process: a.process !== undefined ? readProcessFile(a.process) : undefined,
    args: a.command,
    cwd: a.cwd,
    env: a.env,
    user: a.user,
    additionalGids: a.additionalGids,
    caps: a.caps,
    noNewPrivs: a.noNewPrivs,
    tty: a.tty,
    consoleSocket: a.consoleSocket,
    detach: a.detach,
    pidFile: a.pidFile,
    preserveFds: a.preserveFds,
  };
}

/** `exec` parses its own options: the container command's flags must stay untouched. */
async function execCommand(argv: readonly string[], at: number): Promise<void> {
  const globals = await execGlobals(argv.slice(0, at));
  setup(globals);
  const { parseExecArgs } = await import('./exec-args.js');
  const a = parseExecArgs(argv.slice(at + 1));
  const opts = await execOptions(a);
  const { linuxSyscalls, StateStore } = await runtime();
  const { execInContainer } = await import('../runtime/exec.js');
  mark('modules loaded');
  process.exitCode = await execInContainer(linuxSyscalls(), new StateStore(globals.root), opts, logger);
}

/** The hot verbs, called by the fast path and by yargs alike. */
export const verbs = {
  async create(g: GlobalArgs, a: CreateArgs): Promise<void> {
    const { linuxSyscalls, StateStore } = await runtime();
    const { createContainer } = await import('../runtime/create.js');
    mark('modules loaded');
    createContainer(linuxSyscalls(), new StateStore(g.root), toCreateOptions(a), logger);
  },
  async start(g: GlobalArgs, id: string): Promise<void> {
    const { linuxSyscalls, StateStore } = await runtime();
    const { startContainer } = await import('../runtime/lifecycle.js');
    mark('modules loaded');
    startContainer(linuxSyscalls(), new StateStore(g.root), id, logger);
  },
  async run(g: GlobalArgs, a: CreateArgs & { detach: boolean; keep: boolean }): Promise<void> {
    const { linuxSyscalls, StateStore } = await runtime();
    const { runContainer } = await import('../runtime/run.js');
    const del = await deleteDeps();
    mark('modules loaded');
    process.exitCode = await runContainer(linuxSyscalls(), new StateStore(g.root), {
      ...toCreateOptions(a),
      detach: a.detach,
      keep: a.keep,
    }, del, logger);
  },
  async state(g: GlobalArgs, id: string): Promise<void> {
    const { StateStore } = await import('../runtime/state-store.js');
    const { stateOf } = await import('../runtime/lifecycle.js');
    mark('modules loaded');
    const store = new StateStore(g.root);
    printOut(`${JSON.stringify(stateOf(store, store.read(id)), null, 2)}\n`);
  },
  async kill(g: GlobalArgs, id: string, signal: string, all: boolean): Promise<void> {
    const { linuxSyscalls, StateStore } = await runtime();
    const { killContainer } = await import('../runtime/lifecycle.js');
    const { parseSignal } = await import('../runtime/signals.js');
    const { recordedPids } = await import('../runtime/cgroup-cleanup.js');
    mark('modules loaded');
    killContainer(linuxSyscalls(), new StateStore(g.root), id, parseSignal(signal), all, recordedPids);
  },
  async delete(g: GlobalArgs, id: string, force: boolean): Promise<void> {
    const { linuxSyscalls, StateStore } = await runtime();
    const { deleteContainer } = await import('../runtime/lifecycle.js');
    const del = await deleteDeps();
    mark('modules loaded');
    await deleteContainer(linuxSyscalls(), new StateStore(g.root), id, force, del, logger);
  },
};

function runFast(g: GlobalArgs, c: FastCommand): Promise<void> {
  switch (c.verb) {
    case 'create': return verbs.create(g, c.args);
    case 'run': return verbs.run(g, c.args);
    case 'start': return verbs.start(g, c.args.id);
    case 'state': return verbs.state(g, c.args.id);
    case 'kill': return verbs.kill(g, c.args.id, c.args.signal, c.args.all);
    case 'delete': return verbs.delete(g, c.args.id, c.args.force);
  }
}

/** Prints an error the way every verb does and returns the exit status it maps to. */
function report(err: unknown): number {
  const message = formatError(err);
  logger.error(message);
  process.stderr.write(`kapsel-runtime: ${message}\n`);
  return exitCodeFor(err);
}

/**
 * The stage of a daemon-served create, run or exec: forked by the caller's front
 * (native/front.c), which also reaps what a failed request killed.
 */
async function stageViaFront(sys: Syscalls, front: FrontLink, preserveFds: number) {
  const { StageProcess } = await import('../runtime/stage/client.js');
  return {
    spawnStage: () => StageProcess.forkedBy(sys, preserveFds, (memfd, sock, syncFd) => {
      front.forkStage(memfd, sock, syncFd);
    }),
    reap: (pid: number) => front.reap(pid),
  };
}

/** create, or run's create + start, with the stage forked by the caller's front. */
async function createForFront(g: GlobalArgs, a: CreateArgs, front: FrontLink, start: boolean): Promise<number> {
  const { linuxSyscalls, StateStore } = await runtime();
  const sys = linuxSyscalls();
  const via = await stageViaFront(sys, front, a['preserve-fds'] ?? 0);
  // a relative cgroupsPath is relative to the caller's cgroup, not the daemon's
  const opts = { ...toCreateOptions(a), spawnStage: via.spawnStage, reapInit: via.reap, callerPid: front.pid };
  const store = new StateStore(g.root);
  if (start) {
    const { createAndStart } = await import('../runtime/run.js');
    const del = await deleteDeps();
    mark('modules loaded');
    return createAndStart(sys, store, opts, del, logger);
  }
  const { createContainer } = await import('../runtime/create.js');
  mark('modules loaded');
  return createContainer(sys, store, opts, logger).pid;
}

/** A fast command line served by the daemon; `globalArgv`: its global options as given. */
async function fastForFront(fast: FastArgv, globalArgv: readonly string[], front: FrontLink): Promise<DaemonOutcome> {
  const g = fast.globals;
  const c = fast.command;
  if (c.verb === 'create') {
    await createForFront(g, c.args, front, false);
    return { status: 0 };
  }
  if (c.verb === 'run') {
    const pid = await createForFront(g, c.args, front, true);
    if (c.args.detach) return { status: 0 };
    // the front waits for the init (its child now), then deletes it as `run` does
    return { status: 0, waitPid: pid, ...(c.args.keep ? {} : { followUp: [...globalArgv, 'delete', '--force', c.args.id] }) };
  }
  await runFast(g, c);
  return { status: 0 };
}

async function execForFront(g: GlobalArgs, execArgv: readonly string[], front: FrontLink): Promise<DaemonOutcome> {
  const { parseExecArgs } = await import('./exec-args.js');
  const a = parseExecArgs(execArgv);
  const opts = await execOptions(a);
  const { linuxSyscalls, StateStore } = await runtime();
  const { startExec } = await import('../runtime/exec.js');
  const sys = linuxSyscalls();
  const via = await stageViaFront(sys, front, a.preserveFds ?? 0);
  mark('modules loaded');
  const pid = startExec(sys, new StateStore(g.root), { ...opts, spawnStage: via.spawnStage, reapChild: via.reap }, logger);
  return a.detach ? { status: 0 } : { status: 0, waitPid: pid };
}

/** One request of `kapsel-runtime daemon` (cli/runtime-daemon.ts): a whole invocation's work. */
async function served(globals: GlobalArgs, work: () => Promise<DaemonOutcome>): Promise<DaemonOutcome> {
  restartTimeline();
  try {
    setup(globals);
    mark('arguments parsed (daemon)');
    return await work();
  } catch (err) {
    return { status: report(err), error: formatError(err) };
  } finally {
    mark('request done');
    logger = createLogger();
  }
}

/** What the daemon does for a command line, or undefined to decline it (the front runs Node). */
async function daemonJob(argv: readonly string[]): Promise<DaemonJob | undefined> {
  const at = commandIndex(argv);
  if (at < 0) return undefined;
  if (argv[at] === 'exec') {
    const rest = argv.slice(at + 1);
    const globals = parseFastGlobals(argv.slice(0, at));
    if (globals === undefined || rest.some((t) => t === '--help' || t === '-h')) return undefined;
    return (front) => served(globals, () => execForFront(globals, rest, front));
  }
  const fast = parseFastArgv(argv);
  if (fast === undefined || (await holdsUpDaemon(fast))) return undefined;
  const globalArgv = argv.slice(0, at);
  return (front) => served(fast.globals, () => fastForFront(fast, globalArgv, front));
}

/**
 * Whether the command could hold the daemon for long: a hook without a timeout (one that hangs
 * would hold up every other container's command, as the daemon serves one request at a time),
 * or a VM container's create (an initramfs or disk image and a VM boot: seconds). Those run in
 * their own Node process instead, as without a daemon. Unreadable input is left to the
 * command, which reports it.
 */
async function holdsUpDaemon(fast: FastArgv): Promise<boolean> {
  const unbounded = (hooks: unknown): boolean =>
    Array.isArray(hooks) && hooks.some((h) => typeof h !== 'object' || h === null || (h as { timeout?: unknown }).timeout === undefined);
  const c = fast.command;
  try {
    if (c.verb === 'create' || c.verb === 'run') {
      const spec = JSON.parse(readFileSync(join(c.args.bundle, 'config.json'), 'utf8')) as Spec;
      const { isVmSpec } = await import('../runtime/vm-spec.js');
      return isVmSpec(spec) || Object.values(spec.hooks ?? {}).some(unbounded);
    }
    if (c.verb === 'start' || c.verb === 'delete') {
      const { StateStore } = await import('../runtime/state-store.js');
      const record = new StateStore(fast.globals.root).read(c.args.id);
      return unbounded(record.hooks[c.verb === 'start' ? 'poststart' : 'poststop']);
    }
  } catch {
    return false; // the command reports what it cannot read
  }
  return false;
}

/** Whether the file this process runs (its entry script) was replaced or changed since now. */
function codeReplaced(): () => boolean {
  const entry = process.argv[1] ?? '';
  const stamp = (): string => {
    try {
      const st = statSync(entry);
      return `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      return 'gone';
    }
  };
  const started = stamp();
  return () => stamp() !== started;
}

/**
 * `kapsel-runtime daemon [--socket PATH] [--idle-timeout SECONDS] [--request-log FILE]
 * [--workers N]`; `--listen-fd FD --parent PID` is internal: a worker serving its parent's socket.
 */
async function daemonCommand(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv.slice(),
    options: {
      socket: { type: 'string' },
      'idle-timeout': { type: 'string' },
      'request-log': { type: 'string' },
      workers: { type: 'string' },
      'listen-fd': { type: 'string' },
      parent: { type: 'string' },
    },
    strict: true,
  });
  const idle = Number(values['idle-timeout'] ?? '0');
  if (!Number.isFinite(idle) || idle < 0) throw new KapselError('ERR_USAGE', 'daemon: --idle-timeout takes seconds (0: never)');
  const workers = Number(values.workers ?? '1');
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new KapselError('ERR_USAGE', 'daemon: --workers takes a number of processes from 1 to 64');
  const { linuxSyscalls } = await import('../sys/linux-syscalls.js');
  const daemon = await import('./runtime-daemon.js');
  const sys = linuxSyscalls();
  const opts = {
    socket: values.socket ?? daemon.DEFAULT_DAEMON_SOCKET,
    idleTimeoutMs: idle * 1000,
    job: daemonJob,
    requestLog: values['request-log'],
    stale: codeReplaced(),
  };
  if (values['listen-fd'] !== undefined) {
    // a worker: ends with its parent (which also stops it when the daemon ends), also when the
    // parent died before the death signal was asked for
    sys.prctl(PR_SET_PDEATHSIG, 15);
    if (String(process.ppid) !== values.parent) return;
    await daemon.serveListener(sys, Number(values['listen-fd']), opts);
    return;
  }
  await daemon.serveDaemon(sys, {
    ...opts,
    workers,
    spawnWorkers: (listener, count) => {
      const { spawn } = process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
      const pids: number[] = [];
      for (let i = 0; i < count; i++) {
        const args = [...process.execArgv, process.argv[1]!, 'daemon', '--listen-fd', '3', '--parent', String(process.pid), '--idle-timeout', String(idle)];
        if (values['request-log'] !== undefined) args.push('--request-log', values['request-log']);
        const w = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'ignore', listener] });
        w.on('error', () => undefined);
        if (w.pid !== undefined) pids.push(w.pid);
      }
      return pids;
    },
  });
}

async function main(): Promise<void> {
  const entered = nowMs();
  const argv = process.argv.slice(2);
  const at = commandIndex(argv);
  if (at >= 0 && argv[at] === 'exec' && !argv.slice(at + 1).some((t) => t === '--help' || t === '-h')) {
    await execCommand(argv, at);
    return;
  }
  if (at === 0 && argv[0] === 'daemon') {
    await daemonCommand(argv.slice(1));
    return;
  }
  const fast = parseFastArgv(argv);
  if (fast !== undefined) {
    setup(fast.globals);
    mark('node start-up and entry load', entered);
    mark('arguments parsed');
    await runFast(fast.globals, fast.command);
    restartTimeline(); // the verb's own stages are logged by the runtime; `exit` is teardown only
    return;
  }
  const { parseWithYargs } = await import('./runtime-yargs.js');
  await parseWithYargs(argv, { verbs, setup, runtime, version: VERSION });
}

process.once('exit', () => mark('exit'));

main().catch((err: unknown) => {
  process.exitCode = report(err);
});
