/**
 * A minimal OCI bundle for benchmarks: a rootfs holding a static /bin/busybox and its applet
 * symlinks, and a config.json from `runc spec` (the runtime-spec defaults every runtime here
 * accepts) with a non-terminal process. See runtime-spec bundle.md and config.md.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BUSYBOX = '/bin/busybox';
export const RUNC = '/usr/sbin/runc';

/** busybox must not need a loader or libraries that the rootfs lacks. */
function assertStatic(path) {
  const head = readFileSync(path).subarray(0, 4);
  if (head.toString('latin1') !== '\x7fELF') throw new Error(`bundle: \`${path}\` is not an ELF binary`);
  const ldd = (() => {
    try {
      return execFileSync('ldd', [path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      return `${err.stdout ?? ''}${err.stderr ?? ''}`;
    }
  })();
  if (!/not a dynamic executable|statically linked/.test(ldd)) {
    throw new Error(`bundle: \`${path}\` is dynamically linked; a static busybox is needed`);
  }
}

/**
 * Creates `<dir>/rootfs` and `<dir>/config.json`; `dir` must exist and be empty.
 * @param {string} dir
 * @param {{ args?: string[], busybox?: string, patch?: (config: any) => void }} [opts]
 * @returns {{ bundle: string, rootfs: string, config: any }}
 */
export function createBusyboxBundle(dir, opts = {}) {
  const busybox = opts.busybox ?? BUSYBOX;
  assertStatic(busybox);
  const rootfs = join(dir, 'rootfs');
  const bin = join(rootfs, 'bin');
  mkdirSync(bin, { recursive: true });
  copyFileSync(busybox, join(bin, 'busybox'));
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) {
    // `busybox --list` names busybox itself; a link to itself would shadow the binary (ELOOP)
    if (applet === 'busybox' || applet.includes('/')) continue;
    symlinkSync('busybox', join(bin, applet));
  }
  // Mount points the default spec mounts over; runtimes create them, but not all alike.
  for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(rootfs, d), { recursive: true });

  execFileSync(RUNC, ['spec', '--bundle', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  const configPath = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  config.process.terminal = false;
  config.process.args = opts.args ?? ['/bin/true'];
  opts.patch?.(config);
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  return { bundle: dir, rootfs, config };
}
