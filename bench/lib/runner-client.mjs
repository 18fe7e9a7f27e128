/**
 * The driver's side of runner.mjs: start a runner (on the host, or in a private mount namespace
 * that shows only the cgroup v1 hierarchies) and send it commands one at a time.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const RUNNER = fileURLToPath(new URL('./runner.mjs', import.meta.url));

/**
 * A shell script that, run in a new private mount namespace, leaves a pure cgroup v1 layout:
 * a read-only tmpfs over /sys/fs/cgroup with each v1 hierarchy mounted again (same options, so
 * the same hierarchy, see cgroups(7)) and no cgroup2 mount. A tmpfs over just the cgroup2 mount
 * point is not enough: crun then creates its "unified" cgroup in that tmpfs, never removes it,
 * and once the tmpfs is full, fails and leaks its v1 cgroups. util-linux unshare(1) makes the new
 * namespace's mounts private, so none of this reaches the host.
 */
export function cgroupV1OnlyScript(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')) {
  const steps = ["mount -t tmpfs -o mode=755,size=64k kbench-cgroup-v1-only /sys/fs/cgroup"];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const [fstype, , superOpts] = right.split(' ');
    const root = f[3];
    const point = f[4];
    if (fstype !== 'cgroup' || !point?.startsWith('/sys/fs/cgroup/')) continue;
    // remounting gives the hierarchy's root; a mount of a sub-cgroup cannot be reproduced
    if (root !== '/') throw new Error(`cgroup v1 mount \`${point}\` shows \`${root}\`, not its hierarchy's root`);
    if (!/^[\w/.-]+$/.test(point) || !/^[\w,=.-]+$/.test(superOpts ?? '')) throw new Error(`unexpected cgroup mount \`${line}\``);
    steps.push(`mkdir -p ${point}`, `mount -t cgroup -o ${superOpts} cgroup ${point}`);
  }
  steps.push('mount -o remount,ro /sys/fs/cgroup');
  return steps.join(' && ');
}

/** argv that runs `argv` in a fresh private mount namespace that shows cgroup v1 only. */
export function inCgroupV1OnlyNs(argv) {
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${cgroupV1OnlyScript()} && exec "$0" "$@"`, ...argv];
}

/**
 * @param {'host' | 'cgroup-v1-only-ns'} where
 * @returns {Promise<{ where: string, startupMs: number, info: any, request(cmd: object): Promise<any>, close(): Promise<void> }>}
 */
export async function startRunner(where) {
  const base = [process.execPath, RUNNER];
  const argv = where === 'host' ? base : inCgroupV1OnlyNs(base);
  const t0 = performance.now();
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const pending = new Map();
  let seq = 0;
  let exited = false;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    const answer = JSON.parse(line);
    const p = pending.get(answer.seq);
    pending.delete(answer.seq);
    p?.resolve(answer);
  });
  const closed = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = true;
      for (const p of pending.values()) p.reject(new Error(`runner (${where}) exited: ${code ?? signal}`));
      pending.clear();
      resolve();
    });
  });
  const request = (cmd) => {
    if (exited) return Promise.reject(new Error(`runner (${where}) is gone`));
    const s = ++seq;
    return new Promise((resolve, reject) => {
      pending.set(s, { resolve, reject });
      child.stdin.write(`${JSON.stringify({ ...cmd, seq: s })}\n`);
    });
  };
  const info = await request({ op: 'hello' });
  if (!info.ok) throw new Error(`runner (${where}): ${info.error}`);
  return {
    where,
    startupMs: performance.now() - t0,
    info,
    request,
    async close() {
      if (!exited) child.stdin.end();
      await closed;
    },
  };
}
