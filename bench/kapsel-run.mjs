#!/usr/bin/env node
/**
 * `kapsel run --rm busybox true` against `podman run --rm` of the same busybox (built from the
 * host's busybox-static by bundle-tests/oci-image.ts, `podman load`ed) with crun and with runc
 * as podman's runtime, in the same run, alternating; then the idle memory of one detached
 * container's supervisor: kapsel's monitor against podman's conmon (RSS and PSS from /proc).
 *
 *   node bench/kapsel-run.mjs [--samples 15] [--idle 3]
 *
 * Runs as root. It re-executes itself in a private mount namespace with tmpfs over podman's
 * global paths and only the cgroup v1 hierarchies (crun refuses the hybrid layout), and gives podman and kapsel private storage, so the host is not touched.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './lib/args.mjs';
import { cgroupV1OnlyScript } from './lib/runner-client.mjs';
import { fmt, markdownTable, ratio, summarize } from './lib/stats.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const KAPSEL = join(REPO, 'bin', 'kapsel');
const PRIVATE = ['/var/lib/containers', '/run/containers', '/run/libpod', '/var/run/libpod'];

// podman runs in a private mount namespace held by a `sleep` (nsenter per command): tmpfs over its
// global paths, and only the cgroup v1 hierarchies, since crun refuses the host's hybrid layout.
// kapsel runs on the host as it is.
const holderScript = [cgroupV1OnlyScript(), ...PRIVATE.map((m) => `mkdir -p ${m} && mount -t tmpfs kapsel-bench ${m}`), 'echo ready', 'exec sleep infinity'].join(' && ');
const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', holderScript], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve, reject) => {
  holder.stdout.once('data', resolve);
  holder.once('exit', () => reject(new Error('the podman namespace holder exited')));
});
holder.stdout.destroy();
holder.unref();

const opts = parseArgs(process.argv.slice(2), {
  samples: { default: 15, describe: 'runs per contender' },
  idle: { default: 3, describe: 'detached containers per side for the idle memory' },
}, 'node bench/kapsel-run.mjs [--samples N] [--idle N]');

const work = mkdtempSync(join(tmpdir(), 'kapsel-bench-run-'));
const env = { ...process.env, KAPSEL_STORE: join(work, 'kstore'), KAPSEL_STATE: join(work, 'kstate') };
const podmanBase = ['--root', join(work, 'proot'), '--runroot', join(work, 'prun'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--tmpdir', join(work, 'ptmp')];
const IMAGE = 'docker.io/library/kapsel-busybox:bench';

function sh(cmd, args, { check = true } = {}) {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 120_000 });
  if (check && r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
  return r;
}
// podman's default nofile/nproc limits exceed this VM's hard limits (see bundle-tests/podman.test.ts)
const hardLimit = (name) => /\S+\s+(\S+)\s+\S+\s*$/.exec(readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(name)) ?? '')?.[1] ?? '1024';
const nofile = hardLimit('Max open files');
const nproc = hardLimit('Max processes');
const CGROUP_PARENT = `kapsel-bench-run-${process.pid}`;
const ULIMITS = ['--cgroup-parent', `/${CGROUP_PARENT}`, '--ulimit', `nofile=1024:${Math.min(4096, Number(nofile))}`, '--ulimit', `nproc=${Math.min(8192, Number(nproc))}:${Math.min(8192, Number(nproc))}`];
const podman = (runtime, args, o) => sh('nsenter', ['-m', '-t', String(holder.pid), 'podman', ...podmanBase, ...(runtime ? ['--runtime', runtime] : []), ...args.slice(0, 1), ...(args[0] === 'run' ? ULIMITS : []), ...args.slice(1)], o);

function timed(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function memOf(pid) {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  let pss = NaN;
  try {
    pss = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN);
  } catch {
    // no smaps_rollup
  }
  return { rss, pss };
}

try {
  const { buildBusyboxImage } = await import(join(REPO, 'dist', 'bundle-tests', 'oci-image.js'));
  const img = buildBusyboxImage({ ref: IMAGE });
  podman(undefined, ['load', '-i', img.archive]);
  img.cleanup();
  // warm both: kapsel builds its embedded busybox image on first use
  sh(KAPSEL, ['run', '--rm', '--network', 'none', 'busybox', 'true']);
  const contenders = [
    { name: 'kapsel run --rm --network none', run: () => sh(KAPSEL, ['run', '--rm', '--network', 'none', 'busybox', 'true']) },
    { name: 'podman run --rm (crun)', run: () => podman('/usr/bin/crun', ['run', '--rm', '--network', 'none', IMAGE, 'true']) },
    { name: 'podman run --rm (runc)', run: () => podman('/usr/sbin/runc', ['run', '--rm', '--network', 'none', IMAGE, 'true']) },
  ];
  for (const c of contenders) c.run();
  const ms = new Map(contenders.map((c) => [c.name, []]));
  for (let i = 0; i < opts.samples; i++) {
    const k = i % contenders.length;
    for (const c of [...contenders.slice(k), ...contenders.slice(0, k)]) ms.get(c.name).push(timed(c.run));
  }
  const k = summarize(ms.get(contenders[0].name));
  const rows = contenders.map((c) => {
    const s = summarize(ms.get(c.name));
    return [c.name, fmt(s.median, 0), `${fmt(s.min, 0)}–${fmt(s.max, 0)}`, fmt(s.p90, 0), ratio(k.median, s.median)];
  });
  const latency = markdownTable(['command (busybox true)', 'median ms', 'min–max', 'p90', 'kapsel / this'], rows, ['l', 'r', 'r', 'r', 'r']);

  // idle supervisors of detached `sleep` containers
  const kmem = [];
  const pmem = [];
  const kids = [];
  for (let i = 0; i < opts.idle; i++) {
    const id = sh(KAPSEL, ['run', '-d', 'busybox', 'sleep', '1000']).stdout.trim();
    kids.push(id);
    const rec = JSON.parse(readFileSync(join(env.KAPSEL_STORE, 'containers', id, 'container.json'), 'utf8'));
    const pid = podman('/usr/bin/crun', ['run', '-d', '--network', 'none', IMAGE, 'sleep', '1000']).stdout.trim();
    const conmon = Number(podman(undefined, ['inspect', '--format', '{{.State.ConmonPid}}', pid]).stdout.trim());
    await new Promise((r) => setTimeout(r, 500));
    kmem.push(memOf(rec.monitorPid));
    pmem.push(memOf(conmon));
  }
  for (const id of kids) sh(KAPSEL, ['rm', '-f', id]);
  podman(undefined, ['rm', '-f', '-a', '-t', '0']);
  const med = (xs, f) => summarize(xs.map(f)).median;
  const idle = markdownTable(['supervisor of one idle container', 'RSS KiB (median)', 'PSS KiB (median)'], [
    ['kapsel-monitor (static C)', fmt(med(kmem, (m) => m.rss), 0), fmt(med(kmem, (m) => m.pss), 0)],
    ['conmon (podman, crun)', fmt(med(pmem, (m) => m.rss), 0), fmt(med(pmem, (m) => m.pss), 0)],
    ['kapsel / conmon', ratio(med(kmem, (m) => m.rss), med(pmem, (m) => m.rss)), ratio(med(kmem, (m) => m.pss), med(pmem, (m) => m.pss))],
  ], ['l', 'r', 'r']);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`### kapsel run vs podman run (${new Date().toISOString().slice(0, 16)}Z, ${opts.samples} samples each, alternating, load ${load})\n\n${latency}\n\n${idle}\n`);
} finally {
  podman(undefined, ['rm', '-f', '-a', '-t', '0'], { check: false });
  podman(undefined, ['rmi', '-a', '-f'], { check: false });
  podman(undefined, ['system', 'reset', '-f'], { check: false });
  holder.kill('SIGKILL');
  // podman leaves the parent (and conmon's cgroup below it) behind: remove what this run made
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', h, CGROUP_PARENT);
    if (!existsSync(dir)) continue;
    for (const sub of readdirSync(dir, { withFileTypes: true })) if (sub.isDirectory()) spawnSync('rmdir', [join(dir, sub.name)]);
    spawnSync('rmdir', [dir]);
  }
  if (existsSync(join(env.KAPSEL_STORE, 'containers'))) {
    for (const id of spawnSync(KAPSEL, ['ps', '-a', '-q'], { env, encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) spawnSync(KAPSEL, ['rm', '-f', id], { env });
  }
  rmSync(work, { recursive: true, force: true });
}
