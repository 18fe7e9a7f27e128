// containerd drives kapsel-runtime: a private containerd 1.6 (its own config, root, state and
// socket) started by this file, a busybox image built locally and imported with `ctr images
// import`, and `ctr run --runc-binary` through containerd's io.containerd.runc.v2 shim. The same
// matrix runs with runc as the runtime, which checks the tests themselves (issue 4).
//
// The shim passes `--root <runc-root>/<ns> --log <bundle>/log.json --log-format json` before
// every verb, reads the pid file, reaps the init itself (it is a subreaper; the runtime must not
// stay around as the init's parent) and shows the last `error` line of the log to the user.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CGROUP_V1, RUNC, RUNTIMES, startRuntimeDaemon, type RuntimeDaemon, ok, processesWhere, removeCgroupsNamed, settled, spawnResult, unmountLeftovers, which, type Result } from './engines.js';
import { cgroupsNamed, mountsUnder, sleepMs } from './helpers.js';
import { buildBusyboxImage, type OciImage } from './oci-image.js';

const CONTAINERD = which('containerd');
const CTR = which('ctr');
const SHIM = which('containerd-shim-runc-v2');
const SCRIPT = which('script');
const skipAll = CONTAINERD === undefined || CTR === undefined || SHIM === undefined
  ? 'containerd is not installed (apt-get install containerd)'
  : process.getuid?.() !== 0 ? 'needs root' : false;

interface Engine {
  readonly dir: string;
  readonly sock: string;
  readonly state: string;
  readonly root: string;
  readonly fifoDir: string;
  readonly ns: string;
  readonly log: string;
  readonly proc: ChildProcess;
}

let engine: Engine | undefined;
let image: OciImage | undefined;
/** /run/containerd is where containerd 1.6 puts shim sockets whatever its config says. */
const runContainerdExisted = existsSync('/run/containerd');

function eng(): Engine {
  if (engine === undefined) throw new Error('containerd is not running');
  return engine;
}

function ctr(args: string[], timeoutMs = 60_000): Result {
  const e = eng();
  return spawnResult(CTR!, ['--address', e.sock, '--namespace', e.ns, ...args], undefined, timeoutMs);
}

function shellQuote(a: string): string {
  return `'${a.replace(/'/g, `'\\''`)}'`;
}

/** ctr under `script`, which gives it a terminal (ctr -t needs one on its stdin). */
function ctrTty(args: string[]): Result {
  const e = eng();
  const cmd = [CTR!, '--address', e.sock, '--namespace', e.ns, ...args].map(shellQuote).join(' ');
  return spawnResult(SCRIPT!, ['-qec', cmd, '/dev/null'], undefined, 60_000);
}

/** `ctr task ls` as { id: { pid, status } }. */
function tasks(): Record<string, { pid: number; status: string }> {
  const out: Record<string, { pid: number; status: string }> = {};
  for (const line of ok(ctr(['task', 'ls']), 'task ls').stdout.trim().split('\n').slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id !== undefined && pid !== undefined && status !== undefined) out[id] = { pid: Number(pid), status };
  }
  return out;
}

async function waitStatus(id: string, status: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (tasks()[id]?.status === status) return;
    await sleepMs(50);
  }
  assert.equal(tasks()[id]?.status, status, `task ${id} never reached ${status}`);
}

function containers(): string[] {
  return ok(ctr(['container', 'ls', '-q']), 'container ls').stdout.split('\n').filter(Boolean);
}

function pidsInCgroupOf(ns: string, id: string): number[] {
  return processesWhere((pid) => readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').some((l) => l.endsWith(`/${ns}/${id}`)));
}

/** containerd-shim-runc-v2 processes this file's containerd started (optionally for one id). */
function shimsOf(sock: string, id?: string): number[] {
  return processesWhere((pid) => {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!(argv[0] ?? '').endsWith('containerd-shim-runc-v2')) return false;
    const at = (flag: string) => argv[argv.indexOf(flag) + 1];
    return at('-address') === sock && (id === undefined || at('-id') === id);
  });
}

function hostCgroupFile(controller: string, v2File: string, v1File: string, id: string): string {
  const e = eng();
  return CGROUP_V1 ? join('/sys/fs/cgroup', controller, e.ns, id, v1File) : join('/sys/fs/cgroup', e.ns, id, v2File);
}

/** What a container can leave on the host: processes, shim, mounts, cgroups, shim and runtime state. */
function leftoversOf(id: string, runcRoot: string): string[] {
  const e = eng();
  const out: string[] = [];
  for (const pid of pidsInCgroupOf(e.ns, id)) out.push(`process ${pid} in cgroup /${e.ns}/${id}`);
  for (const pid of shimsOf(e.sock, id)) out.push(`shim ${pid}`);
  for (const m of mountsUnder(e.dir)) out.push(`mount ${m}`);
  for (const c of cgroupsNamed(id)) out.push(`cgroup ${c}`);
  const bundle = join(e.state, 'io.containerd.runtime.v2.task', e.ns, id);
  if (existsSync(bundle)) out.push(`shim state ${bundle}`);
  const state = join(runcRoot, e.ns, id);
  if (existsSync(state)) out.push(`runtime state ${state}`);
  return out;
}

/** Leftovers once containerd's asynchronous shim clean-up has had its chance. */
function settledLeftovers(id: string, runcRoot: string): Promise<string[]> {
  return settled(() => leftoversOf(id, runcRoot));
}

async function startContainerd(): Promise<Engine> {
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-containerd-'));
  const e = {
    dir,
    sock: join(dir, 'containerd.sock'),
    state: join(dir, 'state'),
    root: join(dir, 'root'),
    fifoDir: join(dir, 'fifo'),
    ns: `kapsel-test-${process.pid}`,
    log: join(dir, 'containerd.log'),
  };
  mkdirSync(e.fifoDir);
  const config = join(dir, 'config.toml');
  writeFileSync(config, [
    'version = 2',
    `root = "${e.root}"`,
    `state = "${e.state}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${e.sock}"`,
    '[ttrpc]',
    `  address = "${e.sock}.ttrpc"`,
    '[debug]',
    `  address = "${join(dir, 'debug.sock')}"`,
    '  level = "info"',
    '[metrics]',
    '  address = ""',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${join(dir, 'opt')}"`,
    '[plugins."io.containerd.snapshotter.v1.overlayfs"]',
    `  root_path = "${join(dir, 'root', 'overlayfs')}"`,
    '',
  ].join('\n'));
  const logFd = openSync(e.log, 'w');
  const proc = spawn(CONTAINERD!, ['--config', config], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const started: Engine = { ...e, proc };
  engine = started;
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) break;
    if (existsSync(e.sock) && ctr(['version'], 5_000).status === 0) return started;
    await sleepMs(100);
  }
  throw new Error(`containerd did not come up:\n${readFileSync(e.log, 'utf8').slice(-3000)}`);
}

async function stopContainerd(e: Engine): Promise<string[]> {
  const problems: string[] = [];
  // containers a failed test left: kill, delete tasks and containers through containerd
  try {
    for (const id of Object.keys(tasks())) {
      problems.push(`task ${id} was left`);
      ctr(['task', 'kill', '--all', '--signal', 'SIGKILL', id]);
      await waitStatus(id, 'STOPPED').catch(() => undefined);
      ctr(['task', 'delete', '--force', id]);
    }
    for (const id of containers()) ctr(['container', 'delete', id]);
  } catch (err) {
    problems.push(`clean-up through ctr failed: ${String(err)}`);
  }
  if (e.proc.exitCode === null) {
    const exited = new Promise<void>((resolve) => e.proc.once('exit', () => resolve()));
    e.proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), 20_000); });
    const outcome = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      problems.push('containerd ignored SIGTERM');
      e.proc.kill('SIGKILL');
      await exited;
    }
  }
  // shims this containerd started, found by its private socket
  for (const pid of shimsOf(e.sock)) {
    problems.push(`shim ${pid} outlived containerd`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  // The shim's clean-up runs `<runtime> delete --force` after the task is gone and warns when
  // it fails: runc succeeds for a container that no longer exists. A warning with no runtime
  // output ("exit status 255: ") shows now and then with runc as much as with kapsel-runtime
  // (the shim's own doing, not the runtime's answer): only one the runtime explained counts.
  try {
    for (const line of readFileSync(e.log, 'utf8').split('\n')) {
      const at = line.indexOf('failed to remove runc container');
      if (at < 0) continue;
      const said = /exit status \d+: (.*?)\\"/.exec(line.slice(at))?.[1] ?? '?';
      if (said !== '') problems.push(`containerd log: ${line.slice(at, at + 300)}`);
    }
  } catch {
    // no log
  }
  // overlay snapshots mount under containerd's root and the shim's bundles: only ours
  problems.push(...unmountLeftovers(e.dir));
  if (problems.length > 0) {
    const kept = join(tmpdir(), `kapsel-containerd-${process.pid}.log`);
    try {
      copyFileSync(e.log, kept);
      problems.push(`containerd's log is kept at ${kept}`);
    } catch {
      // no log
    }
  }
  rmSync(e.dir, { recursive: true, force: true });
  // the namespace's parent cgroups (/<ns>) containerd's default cgroupsPath created
  problems.push(...removeCgroupsNamed(e.ns, false));
  if (!runContainerdExisted && existsSync('/run/containerd')) {
    // shim sockets live in /run/containerd/s; only empty directories are ours to remove
    spawnSync('find', ['/run/containerd', '-depth', '-type', 'd', '-empty', '-delete']);
  }
  return problems;
}

test('containerd, ctr and containerd-shim-runc-v2 are installed (.ci/run installs them)', () => {
  assert.equal(skipAll, false, 'missing: install containerd, ctr and containerd-shim-runc-v2 (see .ci/run)');
  assert.notEqual(RUNC, undefined, 'runc is missing');
});

describe('containerd 1.6 drives the runtime through its runc v2 shim', {}, () => {
  before(async () => {
    engine = await startContainerd();
    image = buildBusyboxImage({ ref: 'docker.io/library/kapsel-busybox:test' });
    const r = ok(ctr(['images', 'import', image.archive], 120_000), 'images import');
    assert.match(r.stdout, /unpacking docker\.io\/library\/kapsel-busybox:test/);
  });

  after(async () => {
    image?.cleanup();
    if (engine === undefined) return;
    const problems = await stopContainerd(engine);
    engine = undefined;
    assert.deepEqual(problems, [], 'nothing was left behind by the engine tests');
  });

  test('the imported image is listed with its manifest digest', () => {
    const r = ok(ctr(['images', 'ls']), 'images ls');
    assert.match(r.stdout, new RegExp(`docker\\.io/library/kapsel-busybox:test\\s+application/vnd\\.oci\\.image\\.manifest\\.v1\\+json\\s+${image!.manifestDigest}`));
  });

  for (const rt of RUNTIMES) {
    describe(`with ${rt.name}`, { skip: rt.skip }, () => {
      if (rt.daemon) {
        let daemon: RuntimeDaemon | undefined;
        before(async () => {
          daemon = await startRuntimeDaemon();
        });
        after(async () => {
          const served = (await daemon?.stop()) ?? '';
          for (const verb of ['create', 'start', 'exec', 'kill', 'delete']) assert.match(served, new RegExp(`status=\\d+.* ${verb} `), `the daemon served ${verb}`);
        });
      }
      const IMG = 'docker.io/library/kapsel-busybox:test';
      const runcRoot = (): string => join(eng().dir, `runc-root-${rt.short}`);
      const runtimeFlags = (): string[] => ['--runc-binary', rt.bin, '--runc-root', runcRoot(), '--fifo-dir', eng().fifoDir];
      const ctrRun = (args: string[]): Result => ctr(['run', ...runtimeFlags(), ...args]);
      const exec = (args: string[]): Result => ctr(['task', 'exec', '--fifo-dir', eng().fifoDir, ...args]);

      /** The checked way: kill (SIGKILL) if running, delete the task, delete the container. */
      async function remove(id: string): Promise<void> {
        if (tasks()[id] !== undefined) {
          if (tasks()[id]?.status !== 'STOPPED') {
            ok(ctr(['task', 'kill', '--signal', 'SIGKILL', id]), 'task kill');
            await waitStatus(id, 'STOPPED');
          }
          ok(ctr(['task', 'delete', id]), 'task delete');
        }
        ok(ctr(['container', 'delete', id]), 'container delete');
        assert.ok(!containers().includes(id));
      }

      /** Best effort after a failed test, so one failure does not cascade into the next tests. */
      async function discard(id: string): Promise<void> {
        try {
          const t = tasks()[id];
          if (t !== undefined) {
            if (t.status === 'PAUSED') ctr(['task', 'resume', id]);
            if (t.status !== 'STOPPED') {
              ctr(['task', 'kill', '--all', '--signal', 'SIGKILL', id]);
              await waitStatus(id, 'STOPPED').catch(() => undefined);
            }
            ctr(['task', 'delete', '--force', id]);
          }
          if (containers().includes(id)) ctr(['container', 'delete', id]);
        } catch {
          // the file's `after` reports what is left
        }
      }

      /** A test on one container `<what>-<runtime>-<pid>`; afterwards the host holds nothing of it. */
      function engineTest(title: string, what: string, body: (id: string) => Promise<void> | void, skip: string | false = false): void {
        test(title, { skip }, async () => {
          const id = `${what}-${rt.short}-${process.pid}`;
          try {
            await body(id);
          } finally {
            await discard(id);
          }
          assert.deepEqual(await settledLeftovers(id, runcRoot()), [], 'host leftovers');
        });
      }

      engineTest('attached run: output, stderr and exit status pass through', 'attached', (id) => {
        const r = ctrRun(['--rm', IMG, id, 'sh', '-c', 'echo hi; echo oops >&2; exit 3']);
        assert.equal(r.status, 3, r.stderr);
        assert.equal(r.stdout, 'hi\n');
        assert.match(r.stderr, /oops/);
        assert.ok(!containers().includes(id), '--rm removed the container');
      });

      if (rt.short === 'kapsel') {
        // a VM container (README "MicroVM isolation") through the shim: one boot, seconds under TCG
        engineTest('a VM container (run.kapsel.isolation=vm): the guest kernel, stdout and stderr apart, exit status', 'vm', (id) => {
          const r = ctr(['run', ...runtimeFlags(), '--rm', '--annotation', 'run.kapsel.isolation=vm', IMG, id, 'sh', '-c', 'uname -r; cat /sys/class/dmi/id/sys_vendor; echo oops >&2; exit 3'], 120_000);
          assert.equal(r.status, 3, r.stderr);
          assert.match(r.stdout, /^\S+-cloud-amd64\nQEMU\n$/);
          assert.match(r.stderr, /oops/);
          assert.ok(!containers().includes(id), '--rm removed the container');
        });
      }

      engineTest('a failing create reaches the user with the runtime\'s error', 'nocmd', (id) => {
        const r = ctrRun([IMG, id, 'no-such-command']);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /OCI runtime create failed: .*no-such-command/);
        assert.equal(tasks()[id], undefined);
        ok(ctr(['container', 'delete', id]), 'container delete');
      });

      const noScript = SCRIPT === undefined ? 'script (bsdutils) is not installed' : false;
      engineTest('attached run --tty: the process gets a terminal; exit status passes through', 'tty', (id) => {
        const r = ctrTty(['run', ...runtimeFlags(), '--rm', '--tty', IMG, id, 'sh', '-c', 'tty; test -t 0 && test -t 1 && echo both-tty; exit 5']);
        assert.equal(r.status, 5, r.stdout + r.stderr);
        assert.match(r.stdout, /\/dev\/pts\/\d+/);
        assert.match(r.stdout, /both-tty/);
      }, noScript);

      engineTest('detached run: task ls, exec (plain and --tty), ps, kill, delete', 'detached', async (id) => {
        ok(ctrRun(['-d', IMG, id, 'sleep', '1000']), 'run -d');
        const task = tasks()[id];
        assert.equal(task?.status, 'RUNNING');
        const init = task.pid;
        // the shim reaps the init: the runtime left, so the init's parent is the shim
        const ppid = Number(readFileSync(`/proc/${init}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
        assert.deepEqual(shimsOf(eng().sock, id), [ppid], 'the init is a child of its shim');

        const x = exec(['--exec-id', 'x1', id, 'sh', '-c', 'echo in; cat /proc/1/comm; exit 4']);
        assert.equal(x.status, 4, x.stderr);
        assert.equal(x.stdout, 'in\nsleep\n');

        if (SCRIPT !== undefined) {
          const t = ctrTty(['task', 'exec', '--fifo-dir', eng().fifoDir, '--tty', '--exec-id', 'x2', id, 'sh', '-c', 'tty; test -t 0 && echo stdin-tty; exit 6']);
          assert.equal(t.status, 6, t.stdout + t.stderr);
          assert.match(t.stdout, /\/dev\/pts\/\d+/);
          assert.match(t.stdout, /stdin-tty/);
        }

        ok(exec(['--detach', '--exec-id', 'bg', id, 'sleep', '500']), 'exec --detach');
        const ps = ok(ctr(['task', 'ps', id]), 'task ps').stdout;
        const rows = ps.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
        assert.equal(rows.length, 2, ps);
        assert.ok(rows.some((r) => Number(r[0]) === init), `the init ${init} is listed:\n${ps}`);
        assert.match(ps, /ExecID:bg/);

        // the leftover check sees a live container's every trace (so it can fail)
        const live = leftoversOf(id, runcRoot()).map((l) => l.replace(/ \S+$/, '').replace(/ \d+ in cgroup$/, ''));
        for (const kind of ['process', 'shim', 'mount', 'cgroup', 'shim state', 'runtime state']) assert.ok(live.includes(kind), `${kind} in ${live.join(', ')}`);

        ok(ctr(['task', 'kill', '--signal', 'SIGKILL', id]), 'task kill');
        await waitStatus(id, 'STOPPED');
        const del = ok(ctr(['task', 'delete', id]), 'task delete');
        assert.match(del.stderr, /exit code 137/, 'the init\'s status (SIGKILL) reached containerd');
        ok(ctr(['container', 'delete', id]), 'container delete');
        assert.ok(!containers().includes(id));
      });

      engineTest('kill delivers the signal to the init; its exit status reaches ctr', 'term', async (id) => {
        ok(ctrRun(['-d', IMG, id, 'sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.1; done']), 'run -d');
        await waitStatus(id, 'RUNNING');
        await sleepMs(200); // the trap is set once sh runs its first command
        ok(ctr(['task', 'kill', id]), 'task kill (SIGTERM)');
        await waitStatus(id, 'STOPPED');
        const del = ok(ctr(['task', 'delete', id]), 'task delete');
        assert.match(del.stderr, /exit code 7\b/);
        await remove(id);
      });

      engineTest('pause and resume freeze and thaw the container', 'pause', async (id) => {
        ok(ctrRun(['-d', IMG, id, 'sleep', '1000']), 'run -d');
        ok(ctr(['task', 'pause', id]), 'task pause');
        assert.equal(tasks()[id]?.status, 'PAUSED');
        const freezer = CGROUP_V1 ? hostCgroupFile('freezer', '', 'freezer.state', id) : hostCgroupFile('', 'cgroup.freeze', '', id);
        assert.equal(readFileSync(freezer, 'utf8').trim(), CGROUP_V1 ? 'FROZEN' : '1');
        ok(ctr(['task', 'resume', id]), 'task resume');
        assert.equal(tasks()[id]?.status, 'RUNNING');
        assert.equal(readFileSync(freezer, 'utf8').trim(), CGROUP_V1 ? 'THAWED' : '0');
        const x = exec(['--exec-id', 'alive', id, 'echo', 'alive']);
        assert.equal(x.status, 0, x.stderr);
        assert.equal(x.stdout, 'alive\n');
        ok(ctr(['task', 'kill', '--all', '--signal', 'SIGKILL', id]), 'task kill --all');
        await waitStatus(id, 'STOPPED');
        await remove(id);
      });

      engineTest('--memory-limit is applied to the container\'s cgroup; metrics read it back', 'mem', async (id) => {
        const limit = 64 * 1024 * 1024;
        ok(ctrRun(['-d', '--memory-limit', String(limit), IMG, id, 'sleep', '1000']), 'run -d --memory-limit');
        const file = hostCgroupFile('memory', 'memory.max', 'memory.limit_in_bytes', id);
        assert.equal(readFileSync(file, 'utf8').trim(), String(limit));
        // the init is in the memory cgroup the limit is on
        const init = tasks()[id]!.pid;
        const procs = readFileSync(join(file, '..', 'cgroup.procs'), 'utf8').split('\n').map(Number);
        assert.ok(procs.includes(init), `init ${init} in ${procs.join(',')}`);
        const m = ok(ctr(['task', 'metrics', id]), 'task metrics').stdout;
        assert.match(m, new RegExp(CGROUP_V1 ? `memory\\.limit_in_bytes\\s+${limit}\\b` : `memory\\.limit\\s+${limit}\\b`), m);
        assert.match(m, /pids\.current\s+[1-9]/, m);
        await remove(id);
      });

      engineTest('--memory-limit seen from inside the container (cgroup mount)', 'meminside', (id) => {
        const limit = 64 * 1024 * 1024;
        const file = CGROUP_V1 ? '/sys/fs/cgroup/memory/memory.limit_in_bytes' : '/sys/fs/cgroup/memory.max';
        const r = ctrRun(['--rm', '--memory-limit', String(limit), '--mount', 'type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:nodev:noexec', IMG, id, 'cat', file]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), String(limit));
      });

      test('the runtime root containerd passes holds nothing once every container is gone', () => {
        const root = join(runcRoot(), eng().ns);
        const left = existsSync(root) ? readdirSync(root) : [];
        assert.deepEqual(left, []);
      });
    });
  }
});
