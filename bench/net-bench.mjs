#!/usr/bin/env node
/**
 * Networking: kapsel's bridge network next to podman's default network (CNI bridge, 10.88.0.0/16),
 * in the same run, on the same machine.
 *
 *   node bench/net-bench.mjs [--seconds 5] [--repeats 3] [--connects 300] [--no-write]
 *
 * Measures, for each: container -> container TCP throughput (iperf3), host -> published port TCP
 * throughput via 127.0.0.1 (iperf3 through the DNAT), and TCP connection set-up latency (connect()
 * until established, then close; sequential) container -> container and host -> published port.
 * The clients are the same host binaries for both, run with nsenter in the client container's
 * network namespace; the servers (iperf3 -s, busybox httpd) run in the server container.
 *
 * Isolation: the script re-runs itself in a new network and mount namespace (unshare), with
 * tmpfs over /run and /var/lib (podman's, CNI's, runc's and kapsel's state), so podman's bridge and iptables rules and
 * kapsel's bridge, nft table and ip_forward all stay in that namespace and vanish with it.
 * Needs root, podman (+ runc, containernetworking-plugins), iperf3, busybox, a built kapsel.
 * Appends (or replaces) a "Networking" section in bench/RESULTS.md.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { openSync, closeSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, symlinkSync, chmodSync } from 'node:fs';
import { createBusyboxBundle } from './lib/bundle.mjs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({ options: {
  seconds: { type: 'string', default: '5' }, repeats: { type: 'string', default: '3' },
  connects: { type: 'string', default: '300' }, 'no-write': { type: 'boolean', default: false },
} });
const SELF = fileURLToPath(import.meta.url);
const RESULTS = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

if (process.env.KAPSEL_NET_BENCH_INNER !== '1') {
  const r = spawnSync('unshare', ['-n', '-m', '--propagation', 'private', process.execPath, SELF, ...process.argv.slice(2)], {
    stdio: 'inherit', env: { ...process.env, KAPSEL_NET_BENCH_INNER: '1' },
  });
  process.exit(r.status ?? 1);
}

// ---- inside the private namespaces -------------------------------------------------------------
const dist = new URL('../dist/', import.meta.url);
const { linuxSyscalls } = await import(new URL('sys/linux-syscalls.js', dist));
const { runNft } = await import(new URL('sys/libnftables.js', dist));
const { NetworkManager } = await import(new URL('network/manager.js', dist));

const SECONDS = Number(values.seconds);
const REPEATS = Number(values.repeats);
const CONNECTS = Number(values.connects);
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = (s.length - 1) / 2; return (s[Math.floor(m)] + s[Math.ceil(m)]) / 2; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); const i = (s.length - 1) * p; const lo = Math.floor(i); return s[lo] + (s[Math.ceil(i)] - s[lo]) * (i - lo); };

sh('ip', ['link', 'set', 'lo', 'up']);
// podman, CNI, runc and kapsel keep state under /run and /var/lib: fresh tmpfs over both (no
// directory is created on the host's file systems), gone with this mount namespace.
for (const d of ['/run', '/var/lib']) sh('mount', ['-t', 'tmpfs', 'tmpfs', d]);
const work = mkdtempSync(join(tmpdir(), 'kapsel-net-bench-'));
const children = [];
const www = join(work, 'www');
mkdirSync(www);
chmodSync(work, 0o755);
writeFileSync(join(www, 'index.html'), 'ok\n');

/** Runs `args` in the network namespace of `pid`. */
const inNs = (pid, args, opts = {}) => sh('nsenter', ['-t', String(pid), '-n', ...args], opts);
const spawnIn = (pid, args) => {
  const p = spawn('nsenter', ['-t', String(pid), '-n', ...args], { stdio: 'ignore' });
  children.push(p);
  return p;
};

function iperf(clientPid, host, port) {
  const args = ['iperf3', '-c', host, '-p', String(port), '-t', String(SECONDS), '-J'];
  const out = clientPid === undefined ? sh(args[0], args.slice(1)) : inNs(clientPid, args);
  const r = JSON.parse(out);
  if (r.error !== undefined) throw new Error(`iperf3 -c ${host} -p ${port}: ${r.error}`);
  return r.end.sum_received.bits_per_second / 1e9;
}

/** Sequential connect() latencies in microseconds, measured by a node process in the client's namespace. */
function connects(clientPid, host, port) {
  const script = `const net=require('net');const out=[];let n=0;const one=()=>{const t=process.hrtime.bigint();const s=net.connect(${port},'${host}',()=>{out.push(Number(process.hrtime.bigint()-t)/1e3);s.destroy();if(++n<${CONNECTS})setImmediate(one);else console.log(JSON.stringify(out));});s.on('error',e=>{console.error(e.message);process.exit(1)});};one();`;
  const args = [process.execPath, '-e', script];
  const out = clientPid === undefined ? sh(args[0], args.slice(1)) : inNs(clientPid, args);
  return JSON.parse(out).slice(10); // the first few warm caches (ARP, conntrack, routes)
}

async function waitListen(pid, port) {
  for (let i = 0; i < 100; i++) {
    if (inNs(pid, ['busybox', 'netstat', '-ltn']).includes(`:${port} `)) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${port} in ${pid}`);
}

/** Both set up first, then every sample interleaved (order alternating), so drift hits both alike. */
async function measureAll(setups) {
  for (const s of setups) {
    await waitListen(s.server, 5201);
    await waitListen(s.server, 80);
    Object.assign(s, { c2c: [], pub: [], c2cConnect: [], pubConnect: [] });
  }
  for (let i = 0; i < REPEATS; i++) {
    const order = i % 2 === 0 ? setups : [...setups].reverse();
    for (const s of order) s.c2c.push(iperf(s.client, s.ip, 5201));
    for (const s of order) s.pub.push(iperf(undefined, '127.0.0.1', s.iperfPort));
  }
  for (let i = 0; i < 2; i++) {
    const order = i % 2 === 0 ? setups : [...setups].reverse();
    for (const s of order) s.c2cConnect.push(...connects(s.client, s.ip, 80));
    for (const s of order) s.pubConnect.push(...connects(undefined, '127.0.0.1', s.httpPort));
  }
  return setups.map((s) => ({ ...s, c2cConnect: { median: median(s.c2cConnect), p90: pct(s.c2cConnect, 0.9) }, pubConnect: { median: median(s.pubConnect), p90: pct(s.pubConnect, 0.9) } }));
}

const RUNTIME = fileURLToPath(new URL('../bin/kapsel-runtime', import.meta.url));
/**
 * kapsel's side: real containers, as the engine will make them: `kapsel-runtime create` (new
 * network namespace, cgroup /kapsel/<id>), attach to the network, `start`. The rootfs is
 * busybox plus the host's /usr (read-only) for iperf3.
 */
async function benchKapsel() {
  const mgr = new NetworkManager({ sys: linuxSyscalls(), nft: runNft, storeRoot: join(work, 'store') });
  mgr.create({ name: 'bench', subnet: '10.213.240.0/24', bridge: 'kt-bench' });
  // the container inherits the runtime's stdio: never a pipe that execFileSync would wait on
  const rt = (args) => {
    const out = join(work, 'rt.out');
    const fd = openSync(out, 'w');
    try {
      execFileSync(RUNTIME, ['--root', join(work, 'rt'), ...args], { stdio: ['ignore', fd, 'inherit'] });
    } finally {
      closeSync(fd);
    }
    return readFileSync(out, 'utf8');
  };
  const container = (id, args) => {
    const dir = join(work, id);
    mkdirSync(dir);
    const { rootfs } = createBusyboxBundle(dir, { args, patch: (c) => {
      c.mounts.push({ destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro'] });
      c.mounts.push({ destination: '/www', type: 'bind', source: www, options: ['rbind', 'ro'] });
      c.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] }); // iperf3's buffer file
    } });
    for (const d of ['usr', 'www']) mkdirSync(join(rootfs, d));
    symlinkSync('usr/lib', join(rootfs, 'lib'));
    symlinkSync('usr/lib64', join(rootfs, 'lib64'));
    rt(['create', '--bundle', dir, id]);
    return JSON.parse(rt(['state', id])).pid;
  };
  const ids = [`kbench-${process.pid}-srv`, `kbench-${process.pid}-cli`];
  const cleanup = () => ids.forEach((id) => spawnSync(RUNTIME, ['--root', join(work, 'rt'), 'delete', '--force', id], { stdio: 'ignore' }));
  try {
    const a = container(ids[0], ['sh', '-c', 'iperf3 -s -D && exec httpd -f -p 80 -h /www']);
    const b = container(ids[1], ['sleep', '100000']);
    const ra = mgr.attach({ network: 'bench', containerId: ids[0], netnsPath: `/proc/${a}/ns/net`, ports: [
      { hostIp: '', hostPort: 15201, containerPort: 5201, protocol: 'tcp' }, { hostIp: '', hostPort: 18080, containerPort: 80, protocol: 'tcp' }] });
    mgr.attach({ network: 'bench', containerId: ids[1], netnsPath: `/proc/${b}/ns/net` });
    for (const id of ids) rt(['start', id]);
    return { name: 'kapsel (kapsel-runtime, bridge + nft DNAT)', server: a, client: b, ip: ra.ip, iperfPort: 15201, httpPort: 18080, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

const PODMAN = ['podman', '--runtime', '/usr/sbin/runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
const PODMAN_RUN = ['run', '-d', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096', '--rootfs'];
async function benchPodman() {
  const srv = sh(PODMAN[0], [...PODMAN.slice(1), ...PODMAN_RUN, '--name', 'kbench-srv', '-p', '25201:5201', '-p', '28080:80', '/:O', 'sh', '-c', `iperf3 -s -D; exec busybox httpd -f -p 80 -h ${www}`]).trim();
  const cli = sh(PODMAN[0], [...PODMAN.slice(1), ...PODMAN_RUN, '--name', 'kbench-cli', '/:O', 'sleep', '100000']).trim();
  const cleanup = () => spawnSync(PODMAN[0], [...PODMAN.slice(1), 'rm', '-f', '-t', '0', 'kbench-srv', 'kbench-cli'], { stdio: 'ignore' });
  try {
    const pid = (id) => Number(sh(PODMAN[0], [...PODMAN.slice(1), 'inspect', '-f', '{{.State.Pid}}', id]).trim());
    const ip = sh(PODMAN[0], [...PODMAN.slice(1), 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', srv]).trim();
    return { name: `podman ${sh('podman', ['--version']).trim().split(' ').pop()} (CNI bridge + portmap)`, server: pid(srv), client: pid(cli), ip, iperfPort: 25201, httpPort: 28080, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

let rows;
const setups = [];
try {
  setups.push(await benchKapsel());
  setups.push(await benchPodman());
  rows = await measureAll(setups);
} finally {
  for (const s of setups) s.cleanup();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}

const g = (xs) => median(xs).toFixed(1);
const [k, p] = rows;
const fmtName = (n) => n;
const table = [
  '| | kapsel | podman | kapsel / podman |',
  '|---|---|---|---|',
  `| container -> container TCP, Gbit/s (median of ${REPEATS} x ${SECONDS} s) | ${g(k.c2c)} | ${g(p.c2c)} | ${(median(k.c2c) / median(p.c2c)).toFixed(2)} |`,
  `| host -> 127.0.0.1:published port TCP, Gbit/s | ${g(k.pub)} | ${g(p.pub)} | ${(median(k.pub) / median(p.pub)).toFixed(2)} |`,
  `| container -> container connect, µs median (p90) | ${k.c2cConnect.median.toFixed(0)} (${k.c2cConnect.p90.toFixed(0)}) | ${p.c2cConnect.median.toFixed(0)} (${p.c2cConnect.p90.toFixed(0)}) | ${(k.c2cConnect.median / p.c2cConnect.median).toFixed(2)} |`,
  `| host -> 127.0.0.1:published port connect, µs median (p90) | ${k.pubConnect.median.toFixed(0)} (${k.pubConnect.p90.toFixed(0)}) | ${p.pubConnect.median.toFixed(0)} (${p.pubConnect.p90.toFixed(0)}) | ${(k.pubConnect.median / p.pubConnect.median).toFixed(2)} |`,
];
const section = [
  '## Networking (bench/net-bench.mjs)',
  '',
  `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, kernel ${sh('uname', ['-r']).trim()}, ${rows[0].name} vs ${rows[1].name}; both in one private network namespace made for the run.`,
  `iperf3 ${SECONDS} s per sample, samples of kapsel and podman interleaved; latency: 2 x ${CONNECTS} sequential connects per row (first 10 of each run dropped), lower is better. The host has 2 vCPUs shared with other work: read ratios, not absolutes.`,
  '',
  ...table,
  '',
  `Raw Gbit/s: kapsel c2c ${k.c2c.map((x) => x.toFixed(1)).join(', ')}; published ${k.pub.map((x) => x.toFixed(1)).join(', ')}; podman c2c ${p.c2c.map((x) => x.toFixed(1)).join(', ')}; published ${p.pub.map((x) => x.toFixed(1)).join(', ')}.`,
  '',
].join('\n');
process.stdout.write(`${section}\n`);
if (!values['no-write']) {
  let text = '';
  try { text = readFileSync(RESULTS, 'utf8'); } catch { /* new file */ }
  const start = text.indexOf('## Networking (bench/net-bench.mjs)');
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : '');
  } else {
    text = `${text.replace(/\n*$/, '\n\n')}${section}`;
  }
  writeFileSync(RESULTS, text);
}
