/**
 * Black-box helpers: build busybox bundles, run the built kapsel-runtime on them, and check the
 * host for leftovers. Every test uses its own --root so tests cannot see each other's state.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, closeSync, openSync, readSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSpec } from '../oci/default-spec.js';
import type { Spec } from '../oci/runtime-spec.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RUNTIME = join(REPO, 'bin', 'kapsel-runtime');
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p)) ?? '/bin/busybox';

export interface Bundle {
  readonly dir: string;
  readonly rootfs: string;
  readonly root: string;
  spec: Spec;
  write(): void;
  cleanup(): void;
}

let applets: string[] | undefined;

/** A bundle with a busybox rootfs and runc's default config (terminal off), in a tmpdir. */
export function makeBundle(args: string[] = ['true'], edit: (spec: Spec) => void = () => undefined): Bundle {
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-bundle-'));
  // traversable by the host ids a user namespace maps root to (as run-validation.sh does)
  chmodSync(dir, 0o755);
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'etc', 'tmp', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  applets ??= spawnSync(BUSYBOX, ['--list']).stdout.toString().split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  const spec = defaultSpec();
  spec.process!.terminal = false;
  spec.process!.args = args;
  edit(spec);
  const root = mkdtempSync(join(tmpdir(), 'kapsel-root-'));
  const bundle: Bundle = {
    dir,
    rootfs,
    root,
    spec,
    write() {
      writeFileSync(join(dir, 'config.json'), JSON.stringify(bundle.spec, null, 2));
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    },
  };
  bundle.write();
  return bundle;
}

/**
 * A bundle maker for one test file: every bundle it makes is removed when the file's tests end.
 * Call `cleanupAll` from `after`.
 */
export function bundleFactory(): { bundle: typeof makeBundle; cleanupAll: () => void } {
  const made: Bundle[] = [];
  return {
    bundle(args, edit) {
      const b = makeBundle(args, edit);
      made.push(b);
      return b;
    },
    cleanupAll() {
      made.forEach((b) => b.cleanup());
    },
  };
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * kapsel-runtime --root <bundle.root> ARGS, synchronously. Output goes to files, not pipes: a
 * container started by `create` or `run -d` inherits them and may outlive the command.
 */
export function runtime(bundle: Bundle, args: string[], input?: string): RunResult {
  const outPath = join(bundle.root, `.out-${process.pid}`);
  const errPath = join(bundle.root, `.err-${process.pid}`);
  const out = openSync(outPath, 'w');
  const err = openSync(errPath, 'w');
  let r: SpawnSyncReturns<Buffer>;
  try {
    r = spawnSync(RUNTIME, ['--root', bundle.root, ...args], { cwd: bundle.dir, input: input ?? '', stdio: ['pipe', out, err], timeout: 60_000 });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const result = { status: r.status, stdout: readFileSync(outPath, 'utf8'), stderr: readFileSync(errPath, 'utf8') };
  rmSync(outPath, { force: true });
  rmSync(errPath, { force: true });
  return result;
}

/** `run` of the bundle's process: its stdout, stderr and exit status. */
export function runIn(bundle: Bundle, id = `t${process.pid}-${Math.random().toString(36).slice(2, 8)}`): RunResult {
  bundle.write();
  return runtime(bundle, ['run', '--bundle', bundle.dir, id]);
}

/** Starts a command asynchronously (for tests that interact with a running container). */
export function runtimeAsync(bundle: Bundle, args: string[]) {
  return spawn(RUNTIME, ['--root', bundle.root, ...args], { cwd: bundle.dir, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Mount points below `prefix` in this process's mount namespace. */
export function mountsUnder(prefix: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(prefix));
}

/** Cgroup directories named after `id` in any hierarchy (depth-limited walk of /sys/fs/cgroup). */
export function cgroupsNamed(id: string, maxDepth = 4): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > maxDepth) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (e.name === id) found.push(p);
      walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

/** Asserts-free snapshot of what a container can leave behind, for before/after comparison. */
export function leftovers(bundle: Bundle, id: string): string[] {
  const out: string[] = [];
  for (const m of mountsUnder(bundle.dir)) out.push(`mount ${m}`);
  for (const c of cgroupsNamed(id)) out.push(`cgroup ${c}`);
  if (existsSync(join(bundle.root, id))) out.push(`state ${join(bundle.root, id)}`);
  return out;
}

export function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Reads a terminal master until `marker` appears, EOF, or EIO (the slave side closed). */
export async function readTerminal(master: number, marker: string): Promise<string> {
  let text = '';
  const buf = Buffer.alloc(4096);
  for (let i = 0; i < 200 && !text.includes(marker); i++) {
    try {
      const n = readSync(master, buf, 0, buf.length, null);
      if (n === 0) break;
      text += buf.subarray(0, n).toString();
    } catch {
      break; // EIO once the slave side is closed
    }
    await sleepMs(1);
  }
  return text;
}
