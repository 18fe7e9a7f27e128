// podman drives kapsel-runtime (issue 4): `podman --runtime <binary>` with private storage,
// configuration, locks and network state, on a busybox image built locally and loaded with
// `podman load` (no registry). The same matrix runs with runc as the runtime, which checks the
// tests themselves.
//
// Isolation from the host's podman and network: every podman command runs through
// `nsenter -t <holder> -m -n`, where the holder is an `unshare --mount --propagation slave --net`
// process this file starts. In its network namespace go podman's CNI bridge, veths, iptables
// rules and sysctls; in its mount namespace, private tmpfs instances cover the host paths podman
// 4.3 (rootful) hard-codes: /var/lib/cni (host-local IP allocations, CNI result cache),
// /var/lib/containers (the blob-info cache `podman load` writes), /run/netns (the containers'
// network namespace files) and /dev/shm (libpod's SHM locks). Nothing propagates back (slave).
// containers.conf, storage.conf and registries.conf are the test's own (CONTAINERS_CONF and
// friends: podman then reads no other), and --root, --runroot, --storage-driver vfs,
// --cgroup-manager cgroupfs, --events-backend file and --cgroup-parent keep the rest in a tmpdir.
//
// What podman relies on (recorded from podman 4.3 driving runc): it calls the runtime through
// conmon with `--log-format=json --log FILE` when its name is in `runtime_supports_json`, with an
// almost empty environment and without `--root`; conmon reads the pid file (digits only) and
// reaps the init, which must have become its child when `create` returns.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CGROUP_V1, RUNC, RUNTIMES, startRuntimeDaemon, type RuntimeDaemon, cmdlineOf, ok, ppidOf, processesWhere, removeCgroupsNamed, settled, spawnResult, unmountLeftovers, which, type Result } from './engines.js';
import { cgroupsNamed, mountsUnder, sleepMs } from './helpers.js';
import { buildBusyboxImage, type OciImage } from './oci-image.js';

const PODMAN = which('podman');
const CONMON = which('conmon');
const NSENTER = which('nsenter');
const UNSHARE = which('unshare');
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const skipAll = PODMAN === undefined || CONMON === undefined
  ? 'podman is not installed (apt-get install podman)'
  : NSENTER === undefined || UNSHARE === undefined ? 'nsenter/unshare (util-linux) are not installed'
    : BUSYBOX === undefined ? 'busybox is not installed'
      : process.getuid?.() !== 0 ? 'needs root' : false;

const IMAGE_REF = 'localhost/kapsel-busybox:test';
/** Every container's cgroups go below this parent (podman: <parent>/libpod-<id>, conmon in <parent>/conmon). */
const CGROUP_PARENT = `kapsel-podman-${process.pid}`;
/** Host paths podman writes to whatever its configuration says: private tmpfs in the holder's mount namespace. */
const PRIVATE_MOUNTS = ['/var/lib/cni', '/var/lib/containers', '/run/netns', '/dev/shm'];
/** The CNI plugins podman's default network (bridge, portmap, firewall, tuning) needs. */
const CNI_DIR = '/usr/lib/cni';
const CNI_PLUGINS = ['bridge', 'host-local', 'portmap', 'firewall', 'tuning', 'loopback'];

/** A hard limit of this process from /proc/self/limits (-1: unlimited). */
function hardLimit(row: string): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(row));
  const hard = line?.slice(row.length).trim().split(/\s+/)[1];
  return hard === undefined || hard === 'unlimited' ? -1 : Number(hard);
}

/**
 * The containers' rlimits, below what the runtime inherits so none needs raising: this process's
 * hard limits, and for processes also the kernel's pid_max (podman 4.3 lowers its own, hence the
 * runtime's, RLIMIT_NPROC to it). RLIMIT_NPROC counts all of root's processes on the host: 8192
 * leaves room.
 */
const ULIMITS = (() => {
  const nofile = hardLimit('Max open files');
  const nofileHard = nofile === -1 ? 4096 : Math.min(4096, nofile);
  const nprocHard = hardLimit('Max processes');
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
  const nproc = Math.min(nprocHard === -1 ? Infinity : nprocHard, pidMax, 8192);
  return { nofileSoft: Math.min(1024, nofileHard), nofileHard, nproc };
})();

interface Sandbox {
  readonly dir: string;
  readonly root: string;
  readonly runroot: string;
  readonly events: string;
  readonly env: NodeJS.ProcessEnv;
  readonly holder: ChildProcess & { pid: number };
  /** The holder's mount and network namespaces (`mnt:[N]`, `net:[N]`), to check they are gone. */
  readonly namespaces: readonly string[];
  /** Mount points this file created on the host (removed in `after`). */
  readonly createdMountpoints: string[];
}

let sandbox: Sandbox | undefined;
let image: OciImage | undefined;

function sb(): Sandbox {
  if (sandbox === undefined) throw new Error('the podman sandbox is not set up');
  return sandbox;
}

/** podman in the holder's namespaces, with the sandbox's storage and configuration. */
function podman(runtime: string | undefined, args: string[], timeoutMs = 120_000): Result {
  const s = sb();
  return spawnResult(NSENTER!, [
    '-t', String(s.holder.pid), '-m', '-n', '--',
    PODMAN!, '--root', s.root, '--runroot', s.runroot, '--storage-driver', 'vfs',
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'file',
    ...(runtime === undefined ? [] : ['--runtime', runtime]),
    ...args,
  ], s.env, timeoutMs);
}

/** A command in the holder's network namespace only (the host side of the published ports). */
function inTestNetns(cmd: string, args: string[], timeoutMs = 30_000): Result {
  return spawnResult(NSENTER!, ['-t', String(sb().holder.pid), '-n', '--', cmd, ...args], undefined, timeoutMs);
}

/** Container ids podman has created in this sandbox (from its events file). */
function containerIdsSeen(): string[] {
  const ids = new Set<string>();
  let text = '';
  try {
    text = readFileSync(sb().events, 'utf8');
  } catch {
    return [];
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const e = JSON.parse(line) as { Type?: string; ID?: string };
      if (e.Type === 'container' && e.ID !== undefined) ids.add(e.ID);
    } catch {
      // a line being written
    }
  }
  return [...ids];
}

function inTestCgroup(pid: number): boolean {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`/${CGROUP_PARENT}/`);
}

function usesTestDir(pid: number): boolean {
  return cmdlineOf(pid).some((a) => a.includes(sb().dir));
}

/** A process's command line for a message ('?' once it has exited). */
function commandOf(pid: number): string {
  try {
    return cmdlineOf(pid).join(' ').slice(0, 120);
  } catch {
    return '?';
  }
}

/**
 * What the podman tests can leave on the host: processes (conmon, containers) in the test's
 * cgroups or started for its storage, mounts under its directories (in this mount namespace and
 * the holder's), container cgroups, runtime state, and network namespace files.
 */
function leftovers(): string[] {
  const s = sb();
  const out: string[] = [];
  const ids = containerIdsSeen();
  for (const pid of processesWhere((p) => p !== s.holder.pid && inTestCgroup(p))) out.push(`process ${pid} (${commandOf(pid)}) in a cgroup of the test`);
  for (const pid of processesWhere((p) => p !== s.holder.pid && !inTestCgroup(p) && usesTestDir(p))) out.push(`process ${pid} (${commandOf(pid)})`);
  for (const m of mountsUnder(s.dir)) out.push(`mount ${m}`);
  try {
    for (const line of readFileSync(`/proc/${s.holder.pid}/mountinfo`, 'utf8').split('\n')) {
      const mp = line.split(' ')[4] ?? '';
      if (mp.startsWith(s.dir)) out.push(`mount ${mp} (holder's mount namespace)`);
    }
  } catch {
    // holder gone
  }
  // container cgroups: <parent>/libpod-<id> in each hierarchy
  for (const p of cgroupsNamed(CGROUP_PARENT)) {
    try {
      for (const e of readdirSync(p, { withFileTypes: true })) {
        if (e.isDirectory() && e.name.startsWith('libpod-')) out.push(`cgroup ${join(p, e.name)}`);
      }
    } catch {
      // removed meanwhile
    }
  }
  for (const id of ids) {
    for (const rt of RUNTIMES) {
      if (existsSync(join(rt.stateRoot, id))) out.push(`runtime state ${join(rt.stateRoot, id)}`);
    }
  }
  try {
    for (const f of readdirSync(`/proc/${s.holder.pid}/root/run/netns`)) out.push(`netns /run/netns/${f} (holder's mount namespace)`);
  } catch {
    // holder gone
  }
  return out;
}

/** Leftovers once conmon's exit command (`podman container cleanup`) has had its chance. */
function settledLeftovers(): Promise<string[]> {
  return settled(leftovers);
}

function hostCgroupDir(controller: string, pid: number): string {
  // /proc/<pid>/cgroup: "N:controllers:/path" (v1) or "0::/path" (v2)
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const line = CGROUP_V1
    ? lines.find((l) => l.split(':')[1]!.split(',').includes(controller))
    : lines.find((l) => l.startsWith('0::'));
  assert.ok(line !== undefined, `no ${controller} cgroup for ${pid}`);
  const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
  return CGROUP_V1 ? join('/sys/fs/cgroup', controller, path) : join('/sys/fs/cgroup', path);
}

async function startHolder(dir: string): Promise<ChildProcess & { pid: number }> {
  const script = [
    'set -e',
    ...PRIVATE_MOUNTS.map((m) => `mount -t tmpfs -o ${m === '/dev/shm' ? 'mode=1777' : 'mode=0755'} kapsel-podman-test ${m}`),
    `${BUSYBOX} ip link set lo up`,
    'echo ready',
    'exec sleep infinity',
  ].join('\n');
  const holder = spawn(UNSHARE!, ['--mount', '--propagation', 'slave', '--net', '--', '/bin/sh', '-c', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  holder.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  holder.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  for (let i = 0; i < 200 && !out.includes('ready') && holder.exitCode === null; i++) await sleepMs(25);
  if (!out.includes('ready') || holder.pid === undefined) {
    holder.kill('SIGKILL');
    throw new Error(`the namespace holder did not start: ${err}`);
  }
  holder.stdout!.destroy();
  holder.stderr!.destroy();
  const pid = holder.pid;
  // never run podman in the host's namespaces by mistake
  for (const ns of ['mnt', 'net']) {
    assert.notEqual(readlinkSync(`/proc/${pid}/ns/${ns}`), readlinkSync(`/proc/self/ns/${ns}`), `the holder has its own ${ns} namespace`);
  }
  return holder as ChildProcess & { pid: number };
}

async function setUp(): Promise<Sandbox> {
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-podman-'));
  const s = {
    dir,
    root: join(dir, 'root'),
    runroot: join(dir, 'runroot'),
    events: join(dir, 'events.log'),
  };
  for (const d of ['root', 'runroot', 'tmp', 'volumes', 'net.d', 'home']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'containers.conf'), [
    '[containers]',
    // podman's default open-file and process limits (1048576 and 4194304) are above this VM's
    // hard limits, which only CAP_SYS_RESOURCE could raise: every create would fail, with any
    // runtime. Limits within the test's own make the runtime set them (prlimit) all the same.
    `default_ulimits = ["nofile=${ULIMITS.nofileSoft}:${ULIMITS.nofileHard}", "nproc=${ULIMITS.nproc}:${ULIMITS.nproc}"]`,
    'log_driver = "k8s-file"',
    '[network]',
    'network_backend = "cni"',
    `network_config_dir = "${join(dir, 'net.d')}"`,
    `cni_plugin_dirs = ["${CNI_DIR}"]`,
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${s.events}"`,
    `tmp_dir = "${join(dir, 'tmp')}"`,
    `image_copy_tmp_dir = "${join(dir, 'tmp')}"`,
    `volume_path = "${join(dir, 'volumes')}"`,
    // podman passes --log-format=json --log FILE to runtimes named here
    'runtime_supports_json = ["runc", "kapsel-runtime"]',
    '',
  ].join('\n'));
  writeFileSync(join(dir, 'storage.conf'), ['[storage]', 'driver = "vfs"', `runroot = "${s.runroot}"`, `graphroot = "${s.root}"`, ''].join('\n'));
  writeFileSync(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
  const createdMountpoints: string[] = [];
  for (const m of PRIVATE_MOUNTS) {
    if (!existsSync(m)) {
      mkdirSync(m, { recursive: true });
      createdMountpoints.push(m);
    }
  }
  let holder;
  try {
    holder = await startHolder(dir);
  } catch (err) {
    for (const m of createdMountpoints.reverse()) rmdirSync(m);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...s,
    holder,
    namespaces: ['mnt', 'net'].map((ns) => readlinkSync(`/proc/${holder.pid}/ns/${ns}`)),
    createdMountpoints,
    env: {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: join(dir, 'home'),
      TMPDIR: join(dir, 'tmp'),
      CONTAINERS_CONF: join(dir, 'containers.conf'),
      CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
      CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
    },
  };
}

async function tearDown(s: Sandbox): Promise<string[]> {
  const problems: string[] = [];
  // containers a failed test left
  const left = podman(undefined, ['ps', '-a', '--format', '{{.Names}}']);
  for (const name of left.stdout.split('\n').filter(Boolean)) {
    problems.push(`container ${name} was left`);
    podman(undefined, ['unpause', name]);
    podman(undefined, ['rm', '-f', '-t', '0', name]);
  }
  podman(undefined, ['rmi', '-a', '-f']);
  problems.push(...(await settledLeftovers()));
  // what a failed test left is killed here: processes in the test's cgroups or with its paths
  for (const pid of processesWhere((p) => p !== s.holder.pid && p !== process.pid && (inTestCgroup(p) || usesTestDir(p)))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (s.holder.exitCode === null) {
    const exited = new Promise<void>((resolve) => s.holder.once('exit', () => resolve()));
    s.holder.kill('SIGKILL');
    await exited;
  }
  // the holder's namespaces (and their tmpfs and netns files) die with their last process
  for (const pid of processesWhere(() => true)) {
    for (const ns of ['mnt', 'net']) {
      try {
        const link = readlinkSync(`/proc/${pid}/ns/${ns}`);
        if (s.namespaces.includes(link)) problems.push(`process ${pid} (${commandOf(pid)}) is still in the test's namespace ${link}`);
      } catch {
        // gone or a kernel thread
      }
    }
  }
  problems.push(...unmountLeftovers(s.dir));
  for (const m of [...s.createdMountpoints].reverse()) {
    try {
      rmdirSync(m);
    } catch (err) {
      problems.push(`mount point ${m} this file created: ${(err as Error).message}`);
    }
  }
  rmSync(s.dir, { recursive: true, force: true });
  // the cgroup parent podman created in every hierarchy (and conmon's cgroup below it)
  problems.push(...removeCgroupsNamed(CGROUP_PARENT, true));
  return problems;
}

test('podman and conmon are installed (.ci/run installs them)', () => {
  assert.equal(skipAll, false, 'missing: install podman and conmon (see .ci/run)');
  assert.notEqual(RUNC, undefined, 'runc is missing');
});

describe('podman 4.3 drives the runtime through conmon', {}, () => {
  before(async () => {
    sandbox = await setUp();
    image = buildBusyboxImage({ ref: IMAGE_REF });
    const r = ok(podman(undefined, ['load', '-i', image.archive]), 'podman load');
    assert.match(r.stdout, new RegExp(`Loaded image: ${IMAGE_REF}`));
  });

  after(async () => {
    image?.cleanup();
    if (sandbox === undefined) return;
    const problems = await tearDown(sandbox);
    sandbox = undefined;
    assert.deepEqual(problems, [], 'nothing was left behind by the podman tests');
  });

  test('the loaded image is listed; the host\'s podman state is not used', () => {
    const r = ok(podman(undefined, ['images', '--format', '{{.Repository}}:{{.Tag}}']), 'images');
    assert.deepEqual(r.stdout.trim().split('\n'), [IMAGE_REF]);
    const info = JSON.parse(ok(podman(undefined, ['info', '--format', 'json']), 'info').stdout) as {
      store: { graphRoot: string; runRoot: string; graphDriverName: string };
      host: { cgroupManager: string; eventLogger: string };
    };
    assert.equal(info.store.graphRoot, sb().root);
    assert.equal(info.store.runRoot, sb().runroot);
    assert.equal(info.store.graphDriverName, 'vfs');
    assert.equal(info.host.cgroupManager, 'cgroupfs');
    assert.equal(info.host.eventLogger, 'file');
  });

  for (const rt of RUNTIMES) {
    describe(`with ${rt.name}`, { skip: rt.skip }, () => {
      if (rt.daemon) {
        // in podman's mount and network namespaces, where conmon runs the runtime
        let daemon: RuntimeDaemon | undefined;
        before(async () => {
          daemon = await startRuntimeDaemon([NSENTER!, '-t', String(sb().holder.pid), '-m', '-n', '--']);
        });
        after(async () => {
          const served = (await daemon?.stop()) ?? '';
          for (const verb of ['create', 'start', 'exec', 'kill', 'delete']) assert.match(served, new RegExp(`status=\\d+.* ${verb} `), `the daemon served ${verb}`);
        });
      }
      const CG = ['--cgroup-parent', `/${CGROUP_PARENT}`];
      const pm = (args: string[], timeoutMs?: number): Result => podman(rt.bin, args, timeoutMs);
      const nameOf = (what: string): string => `${what}-${rt.short}`;
      /** sh as the init, exits with 7 on SIGTERM (a plain sh as pid 1 ignores it). */
      const LOOP = ['sh', '-c', 'trap "exit 7" TERM; echo started; echo to-stderr >&2; while :; do sleep 0.1; done'];

      function inspect(name: string, format: string): string {
        return ok(pm(['inspect', '--format', format, name]), `inspect ${name}`).stdout.trim();
      }

      async function runDetached(name: string, args: string[] = LOOP, opts: string[] = []): Promise<{ id: string; pid: number }> {
        const r = ok(pm(['run', '-d', '--name', name, ...CG, ...opts, IMAGE_REF, ...args]), 'run -d');
        const id = r.stdout.trim();
        assert.match(id, /^[0-9a-f]{64}$/, 'run -d prints the container id');
        assert.equal(inspect(name, '{{.State.Status}}'), 'running');
        const pid = Number(inspect(name, '{{.State.Pid}}'));
        assert.ok(pid > 0);
        // the trap is set once the output is there
        if (args === LOOP) {
          for (let i = 0; i < 100 && !pm(['logs', name]).stdout.includes('started'); i++) await sleepMs(50);
        }
        return { id, pid };
      }

      /** Best effort after a test, so one failure does not cascade into the next tests. */
      function discard(name: string): void {
        const r = pm(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Names}}']);
        if (!r.stdout.split('\n').includes(name)) return;
        if (pm(['inspect', '--format', '{{.State.Status}}', name]).stdout.trim() === 'paused') pm(['unpause', name]);
        pm(['rm', '-f', '-t', '0', name]);
      }

      const used: string[] = [];
      afterEach(async () => {
        for (const name of used.splice(0)) discard(name);
        assert.deepEqual(await settledLeftovers(), [], 'host leftovers');
      });
      const use = (what: string): string => {
        const name = nameOf(what);
        used.push(name);
        return name;
      };

      test('run --rm: stdout, stderr and the exit status pass through; the container is removed', () => {
        const name = use('rm');
        const r = pm(['run', '--rm', '--name', name, ...CG, IMAGE_REF, 'sh', '-c', 'echo hi; echo oops >&2; ulimit -n; ulimit -Hn; ulimit -u; exit 3']);
        assert.equal(r.status, 3, r.stderr);
        assert.equal(r.stdout, `hi\n${ULIMITS.nofileSoft}\n${ULIMITS.nofileHard}\n${ULIMITS.nproc}\n`);
        assert.match(r.stderr, /oops/);
        assert.equal(ok(pm(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Names}}']), 'ps -a').stdout, '');
        const zero = pm(['run', '--rm', ...CG, IMAGE_REF, 'true']);
        assert.equal(zero.status, 0, zero.stderr);
      });

      test('a command that cannot be run: 127 or 126 and the runtime\'s error reach the user', () => {
        const missing = pm(['run', '--rm', '--name', use('nocmd'), ...CG, IMAGE_REF, 'no-such-command']);
        assert.equal(missing.status, 127, missing.stderr);
        assert.match(missing.stderr, /no-such-command.*(executable file not found|no such file)/i);
        const notExec = pm(['run', '--rm', '--name', use('noexec'), ...CG, IMAGE_REF, '/etc/passwd']);
        assert.equal(notExec.status, 126, notExec.stderr);
        assert.match(notExec.stderr, /permission denied/i);
      });

      test('run -d, ps and logs; the init is conmon\'s child and the runtime is called with a JSON log', async () => {
        const name = use('detached');
        const { id, pid } = await runDetached(name);
        const ps = ok(pm(['ps', '--no-trunc', '--format', '{{.ID}} {{.Names}} {{.Status}}']), 'ps').stdout;
        assert.match(ps, new RegExp(`^${id} ${name} Up `, 'm'));
        const logs = ok(pm(['logs', name]), 'logs');
        assert.equal(logs.stdout, 'started\n');
        assert.equal(logs.stderr, 'to-stderr\n');
        // conmon reaps the init: the runtime left, so the init's parent is conmon
        const conmon = Number(inspect(name, '{{.State.ConmonPid}}'));
        assert.equal(ppidOf(pid), conmon, 'the init is a child of conmon');
        const argv = cmdlineOf(conmon);
        assert.equal(argv[argv.indexOf('-r') + 1], rt.bin, 'conmon runs this runtime');
        assert.ok(argv.includes('--log-format=json'), `conmon passes --log-format=json: ${argv.join(' ')}`);
        // the runtime's own view of the container podman created
        const state = spawnSync(rt.bin, ['state', id], { encoding: 'utf8' });
        assert.equal(state.status, 0, state.stderr);
        const st = JSON.parse(state.stdout) as { status: string; pid: number };
        assert.equal(st.status, 'running');
        assert.equal(st.pid, pid);
        // the leftover check sees a live container's every trace (so it can fail)
        const live = leftovers().join('\n');
        for (const kind of [/^process \d+ .* in a cgroup of the test$/m, /^mount .*\/shm \(holder's mount namespace\)$/m, /^cgroup .*\/libpod-/m, /^runtime state /m, /^netns /m]) {
          assert.match(live, kind);
        }
        ok(pm(['rm', '-f', '-t', '0', name]), 'rm -f');
      });

      test('exec: output, exit status, --env/--workdir/--user; exec -t gets a terminal', async () => {
        const name = use('exec');
        await runDetached(name);
        const x = pm(['exec', name, 'sh', '-c', 'echo in; cat /proc/1/cmdline | tr "\\0" " "; echo; exit 4']);
        assert.equal(x.status, 4, x.stderr);
        assert.equal(x.stdout.split('\n')[0], 'in');
        assert.match(x.stdout.split('\n')[1] ?? '', /^sh -c trap "exit 7" TERM; echo started/);
        const opts = pm(['exec', '-e', 'FOO=bar', '-w', '/tmp', '-u', 'nobody', name, 'sh', '-c', 'echo $FOO $(pwd) $(id -u)']);
        assert.equal(opts.status, 0, opts.stderr);
        assert.equal(opts.stdout, 'bar /tmp 65534\n');
        // podman accepts a non-terminal stdin for exec -t: the process gets a pty all the same
        const t = pm(['exec', '-t', name, 'sh', '-c', 'tty; test -t 0 && test -t 1 && echo both-tty; exit 6']);
        assert.equal(t.status, 6, t.stdout + t.stderr);
        assert.match(t.stdout, /^\/dev\/pts\/\d+\r?\n/);
        assert.match(t.stdout, /both-tty/);
        ok(pm(['exec', '-d', name, 'sleep', '500']), 'exec -d');
        const top = ok(pm(['exec', name, 'ps', '-o', 'args']), 'exec ps').stdout;
        assert.match(top, /sleep 500/);
        ok(pm(['rm', '-f', '-t', '0', name]), 'rm -f');
      });

      test('stop sends SIGTERM to the init and podman records its exit status; rm removes the container', async () => {
        const name = use('stop');
        await runDetached(name);
        const t0 = Date.now();
        const stop = ok(pm(['stop', '-t', '20', name]), 'stop');
        assert.equal(stop.stdout.trim(), name);
        assert.ok(Date.now() - t0 < 15_000, 'stopped by SIGTERM, not by the timeout\'s SIGKILL');
        assert.equal(inspect(name, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 7');
        assert.match(ok(pm(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}']), 'ps -a').stdout, /^Exited \(7\)/);
        const rm = ok(pm(['rm', name]), 'rm');
        assert.equal(rm.stdout.trim(), name);
        assert.equal(pm(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Names}}']).stdout, '');
        assert.notEqual(pm(['inspect', name]).status, 0, 'inspect after rm fails');
      });

      test('pause and unpause freeze and thaw the container', async () => {
        const name = use('pause');
        const { pid } = await runDetached(name);
        const freezer = CGROUP_V1 ? join(hostCgroupDir('freezer', pid), 'freezer.state') : join(hostCgroupDir('', pid), 'cgroup.freeze');
        ok(pm(['pause', name]), 'pause');
        assert.equal(inspect(name, '{{.State.Status}}'), 'paused');
        assert.equal(readFileSync(freezer, 'utf8').trim(), CGROUP_V1 ? 'FROZEN' : '1');
        ok(pm(['unpause', name]), 'unpause');
        assert.equal(inspect(name, '{{.State.Status}}'), 'running');
        assert.equal(readFileSync(freezer, 'utf8').trim(), CGROUP_V1 ? 'THAWED' : '0');
        const x = pm(['exec', name, 'echo', 'alive']);
        assert.equal(x.status, 0, x.stderr);
        assert.equal(x.stdout, 'alive\n');
        ok(pm(['stop', '-t', '20', name]), 'stop');
        assert.equal(inspect(name, '{{.State.ExitCode}}'), '7');
      });

      test('--memory 64m and --cpu-shares 512 reach the container\'s cgroups', async () => {
        const name = use('res');
        const { id, pid } = await runDetached(name, LOOP, ['--memory', '64m', '--cpu-shares', '512']);
        const limit = String(64 * 1024 * 1024);
        const memDir = hostCgroupDir('memory', pid);
        const cpuDir = hostCgroupDir('cpu', pid);
        assert.ok(memDir.endsWith(`/${CGROUP_PARENT}/libpod-${id}`), `the init's memory cgroup ${memDir}`);
        assert.ok(cpuDir.endsWith(`/${CGROUP_PARENT}/libpod-${id}`), `the init's cpu cgroup ${cpuDir}`);
        if (CGROUP_V1) {
          assert.equal(readFileSync(join(memDir, 'memory.limit_in_bytes'), 'utf8').trim(), limit);
          assert.equal(readFileSync(join(cpuDir, 'cpu.shares'), 'utf8').trim(), '512');
        } else {
          assert.equal(readFileSync(join(memDir, 'memory.max'), 'utf8').trim(), limit);
          // runtimes convert shares to weight differently; 512 shares is below the default 100
          const weight = Number(readFileSync(join(cpuDir, 'cpu.weight'), 'utf8').trim());
          assert.ok(weight >= 1 && weight < 100, `cpu.weight ${weight}`);
        }
        // and from inside: the container's own cgroup files
        const inner = pm(['exec', name, 'sh', '-c', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes']);
        assert.equal(inner.status, 0, inner.stderr);
        assert.equal(inner.stdout.trim(), limit);
        ok(pm(['rm', '-f', '-t', '0', name]), 'rm -f');
      });

      test('--network none: only lo, up, and loopback traffic works', () => {
        const r = pm(['run', '--rm', '--name', use('nonet'), ...CG, '--network', 'none', IMAGE_REF, 'sh', '-c', [
          'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "',
          'ip -o -4 addr show lo | grep -o "inet [0-9./]*"',
          // (busybox 1.35's wget crashes with -T when the connection fails: no -T)
          'mkdir /w && echo lo-ok > /w/i && httpd -p 127.0.0.1:8080 -h /w && wget -q -O - http://127.0.0.1:8080/i',
        ].join('; ')]);
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.equal(r.stdout, 'lo\ninet 127.0.0.1/8\nlo-ok\n');
      });

      const portSkip = ((): string | false => {
        const missing = CNI_PLUGINS.filter((p) => !existsSync(join(CNI_DIR, p)));
        if (missing.length > 0) return `CNI plugins ${missing.join(', ')} are missing from ${CNI_DIR} (apt-get install containernetworking-plugins)`;
        if (which('iptables') === undefined) return 'iptables is not installed (the CNI portmap and firewall plugins need it)';
        return false;
      })();
      test('a port published on 127.0.0.1 reaches busybox httpd in the container, from the test\'s network namespace', { skip: portSkip }, async () => {
        const probe = inTestNetns(which('iptables')!, ['-t', 'nat', '-S']);
        assert.equal(probe.status, 0, `iptables works in the test's network namespace: ${probe.stderr}`);
        const name = use('web');
        const body = `hello from ${rt.name}`;
        await runDetached(name, ['sh', '-c', `mkdir -p /www && echo "${body}" > /www/index.html && exec httpd -f -p 80 -h /www`], ['-p', '127.0.0.1:8080:80']);
        assert.equal(ok(pm(['port', name]), 'port').stdout.trim(), '80/tcp -> 127.0.0.1:8080');
        const eth0 = ok(pm(['exec', name, 'ip', '-o', '-4', 'addr', 'show', 'eth0']), 'exec ip addr').stdout;
        assert.match(eth0, /inet 10\.88\./, 'the container is on podman\'s default network');
        // Node's http client in the test's network namespace (the host side of the port)
        const fetch = [
          'const req = require("node:http").get("http://127.0.0.1:8080/", { timeout: 5000 }, (res) => {',
          '  let body = ""; res.on("data", (d) => { body += d; });',
          '  res.on("end", () => { process.stdout.write(body); process.exit(res.statusCode === 200 ? 0 : 2); });',
          '});',
          'req.on("timeout", () => { console.error("timeout"); process.exit(3); });',
          'req.on("error", (e) => { console.error(e.message); process.exit(1); });',
        ].join('\n');
        let got: Result | undefined;
        for (let i = 0; i < 50; i++) {
          got = inTestNetns(process.execPath, ['-e', fetch]);
          if (got.status === 0) break;
          await sleepMs(100);
        }
        assert.equal(got?.status, 0, got?.stderr);
        assert.equal(got?.stdout, `${body}\n`);
        // the bridge lives in the test's network namespace, not the host's
        const devs = (path: string): string[] => readFileSync(path, 'utf8').split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean);
        assert.ok(devs(`/proc/${sb().holder.pid}/net/dev`).includes('cni-podman0'));
        assert.ok(!devs('/proc/self/net/dev').includes('cni-podman0'));
        ok(pm(['stop', '-t', '0', name]), 'stop');
        ok(pm(['rm', name]), 'rm');
      });
    });
  }
});
