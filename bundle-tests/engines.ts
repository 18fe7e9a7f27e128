/**
 * What the engine tests (containerd.test.ts, podman.test.ts) share: finding the engines'
 * binaries, the runtime matrix (runc checks the tests themselves, then kapsel-runtime), running a
 * command for its output, and finding what an engine left on the host (processes, mounts,
 * cgroups).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNTIME, cgroupsNamed, mountsUnder, sleepMs } from './helpers.js';

/** The path of an installed binary, looked up in the usual system directories (not $PATH). */
export function which(name: string): string | undefined {
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

export const RUNC = which('runc');

/** Where the daemon variant's wrapper, socket and request log live (one per test process). */
const DAEMON_DIR = join(tmpdir(), `kapsel-engine-daemon-${process.pid}`);

/**
 * The runtimes every engine test runs with: runc first (the reference: a test it fails is wrong),
 * then kapsel-runtime, then kapsel-runtime served by `kapsel-runtime daemon` (a wrapper that
 * points the front at a daemon the test starts: startRuntimeDaemon). `stateRoot` is where each
 * keeps its state when no `--root` is given.
 */
export const RUNTIMES = [
  { name: 'runc', short: 'runc', bin: RUNC ?? '/usr/sbin/runc', stateRoot: '/run/runc', skip: false, daemon: false },
  { name: 'kapsel-runtime', short: 'kapsel', bin: RUNTIME, stateRoot: '/run/kapsel-runtime', skip: false, daemon: false },
  { name: 'kapsel-runtime + daemon', short: 'kapseld', bin: join(DAEMON_DIR, 'kapsel-runtime'), stateRoot: '/run/kapsel-runtime', skip: false, daemon: true },
] as const;

export interface RuntimeDaemon {
  /** Stops the daemon and returns its request log (one line per request it served). */
  stop(): Promise<string>;
}

/**
 * Starts `kapsel-runtime daemon` for the daemon variant of RUNTIMES and writes its wrapper.
 * `enter` runs it in the engine's namespaces (nsenter ...): the front uses a daemon only when
 * it shares them.
 */
export async function startRuntimeDaemon(enter: readonly string[] = []): Promise<RuntimeDaemon> {
  mkdirSync(DAEMON_DIR, { recursive: true });
  const socket = join(DAEMON_DIR, 'daemon.sock');
  const log = join(DAEMON_DIR, 'requests.log');
  writeFileSync(join(DAEMON_DIR, 'kapsel-runtime'), `#!/bin/sh\nKAPSEL_RUNTIME_DAEMON_SOCKET=${socket} exec ${RUNTIME} "$@"\n`, { mode: 0o755 });
  const argv = [...enter, RUNTIME, 'daemon', '--socket', socket, '--request-log', log];
  const d = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  for (let i = 0; i < 500 && !existsSync(socket) && d.exitCode === null; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(existsSync(socket), `kapsel-runtime daemon listens on ${socket}`);
  return {
    async stop() {
      if (d.exitCode === null && d.signalCode === null) {
        d.kill('SIGKILL');
        await new Promise((r) => d.once('exit', r));
      }
      const served = existsSync(log) ? readFileSync(log, 'utf8') : '';
      rmSync(DAEMON_DIR, { recursive: true, force: true });
      return served;
    },
  };
}

/** Legacy (v1) hierarchies or the unified one: decides which host cgroup files to read. */
export const CGROUP_V1 = existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes') || existsSync('/sys/fs/cgroup/freezer');

export interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; a spawn error or timeout is appended to stderr. */
export function spawnResult(cmd: string, args: string[], env: NodeJS.ProcessEnv | undefined, timeoutMs: number): Result {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : '') };
}

/** Asserts exit status 0, showing the output otherwise. */
export function ok(r: Result, what: string): Result {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

export function cmdlineOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

export function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The host's processes for which `match` holds; a process that exits meanwhile does not match. */
export function processesWhere(match: (pid: number) => boolean): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (match(Number(name))) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** `check()` again every 100 ms, up to 10 s, until it finds nothing (an engine's clean-up is asynchronous). */
export async function settled(check: () => string[]): Promise<string[]> {
  let left = check();
  for (let i = 0; i < 100 && left.length > 0; i++) {
    await sleepMs(100);
    left = check();
  }
  return left;
}

/** Lazily unmounts every mount below `dir` (deepest first) and names each as a problem. */
export function unmountLeftovers(dir: string): string[] {
  const problems: string[] = [];
  for (const m of mountsUnder(dir).reverse()) {
    problems.push(`mount ${m}`);
    spawnSync('umount', ['-l', m]);
  }
  return problems;
}

/**
 * Removes the test's parent cgroup `name` from every hierarchy (with `children`, the empty
 * directories right below it first) and names what could not be removed: it was not empty.
 */
export function removeCgroupsNamed(name: string, children: boolean): string[] {
  for (const p of cgroupsNamed(name)) {
    if (children) {
      for (const sub of readdirSync(p, { withFileTypes: true })) {
        if (!sub.isDirectory()) continue;
        try {
          rmdirSync(join(p, sub.name));
        } catch {
          // not empty: reported below
        }
      }
    }
    try {
      rmdirSync(p);
    } catch {
      // not empty: reported below
    }
  }
  return cgroupsNamed(name).map((p) => `cgroup ${p}`);
}
