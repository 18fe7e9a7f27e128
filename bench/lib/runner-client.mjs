/**
 * The driver's side of runner.mjs: start a runner (on the host, or in a private mount namespace
 * where a tmpfs hides the cgroup2 mount) and send it commands one at a time.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const RUNNER = fileURLToPath(new URL('./runner.mjs', import.meta.url));

/**
 * Hides the cgroup2 mount of a hybrid host from everything started in the namespace. util-linux
 * unshare(1) makes the new namespace's mounts private, so the tmpfs never reaches the host.
 */
export const HIDE_CGROUP2 = 'mount -t tmpfs -o size=64k,mode=755 kbench-no-cgroup2 /sys/fs/cgroup/unified';

/** argv that runs `argv` in a fresh private mount namespace with the cgroup2 mount hidden. */
export function inPrivateCgroupNs(argv) {
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${HIDE_CGROUP2} && exec "$0" "$@"`, ...argv];
}

/**
 * @param {'host' | 'private-cgroup-ns'} where
 * @returns {Promise<{ where: string, startupMs: number, info: any, request(cmd: object): Promise<any>, close(): Promise<void> }>}
 */
export async function startRunner(where) {
  const base = [process.execPath, RUNNER];
  const argv = where === 'host' ? base : inPrivateCgroupNs(base);
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
