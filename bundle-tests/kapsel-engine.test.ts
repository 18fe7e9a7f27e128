// The docker-like `kapsel` CLI on real containers of the embedded busybox image: attached and
// detached runs, exit codes, a real pty, exec, logs, stop, restart policies, limits, inspect,
// names, and a killed monitor. Store and state roots are the test's own; after every test
// nothing may be left: no container, monitor process, runtime state, cgroup or mount.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, cgroupsNamed, mountsUnder, sleepMs } from './helpers.js';

const KAPSEL = join(REPO, 'bin', 'kapsel');
const store = mkdtempSync(join(tmpdir(), 'kapsel-cli-store-'));
const state = mkdtempSync(join(tmpdir(), 'kapsel-cli-state-'));
const env = { ...process.env, KAPSEL_STORE: store, KAPSEL_STATE: state };

interface Result { status: number | null; stdout: string; stderr: string }

function kapsel(args: string[], input?: string | Buffer): Result {
  const r = spawnSync(KAPSEL, args, { env, timeout: 120_000, ...(input !== undefined && { input }) });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function ok(args: string[]): string {
  const r = kapsel(args);
  assert.equal(r.status, 0, `kapsel ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function inspect(name: string): { Id: string; State: Record<string, unknown>; RestartCount: number; Config: Record<string, unknown>; HostConfig: Record<string, unknown>; Name: string; NetworkSettings: unknown; Mounts: unknown[] } {
  return JSON.parse(ok(['inspect', name]))[0];
}

/** Host processes whose command line names our store (monitors, exit handlers, creates). */
function processesOfStore(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(store)) out.push(`${pid} ${cmd.replaceAll('\0', ' ')}`);
    } catch {
      // exited
    }
  }
  return out;
}

/** Waits until `fn` holds, polling (the condition is asserted by the caller afterwards). */
async function until(fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn() && Date.now() < deadline) await sleepMs(50);
}

const ids: string[] = [];

function monitorLog(id: string): string {
  try {
    return readFileSync(join(store, 'containers', id, 'monitor.log'), 'utf8').trim() || 'empty';
  } catch {
    return 'none';
  }
}

afterEach(async () => {
  for (const id of kapsel(['ps', '-a', '-q']).stdout.split('\n').filter(Boolean)) kapsel(['rm', '-f', id]);
  await until(() => processesOfStore().length === 0, 5000);
  assert.deepEqual(processesOfStore(), [], 'no monitor or helper process is left');
  assert.deepEqual(readdirSync(state), [], 'no runtime state is left');
  const left = existsSync(join(store, 'containers')) ? readdirSync(join(store, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
  assert.deepEqual(left, [], 'no container directory is left');
  for (const id of ids.splice(0)) assert.deepEqual(cgroupsNamed(id), [], `no cgroup of ${id} is left`);
  assert.deepEqual(mountsUnder(store), []);
});

after(() => {
  rmSync(store, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
});

test('attached run: stdout and stderr apart, the exit status passes through, --rm leaves nothing', () => {
  const r = kapsel(['run', '--rm', '--name', 'cli-att', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(kapsel(['inspect', 'cli-att']).status, 125, '--rm removed the container');
  // removed by the client before it returned: nothing to wait for
  assert.equal(kapsel(['ps', '-a', '-q']).stdout, '');
  assert.deepEqual(processesOfStore(), [], 'the monitor is gone');
  assert.deepEqual(readdirSync(state), [], 'no runtime state');
  assert.deepEqual(readdirSync(join(store, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n)), []);
  assert.deepEqual(mountsUnder(store), []);
});

test('docker exit codes: 125 unknown image, 127 unknown command, 126 not executable; clear messages', () => {
  const unknown = kapsel(['run', '--rm', 'no/such-image', 'true']);
  assert.equal(unknown.status, 125);
  assert.match(unknown.stderr, /image `docker\.io\/no\/such-image:latest` is not in the image store/);
  const missing = kapsel(['run', '--rm', 'busybox', 'nosuchcmd']);
  assert.equal(missing.status, 127);
  assert.match(missing.stderr, /nosuchcmd.*not found/);
  const notExec = kapsel(['run', '--rm', 'busybox', '/etc/passwd']);
  assert.equal(notExec.status, 126, notExec.stderr);
});

test('-it gives a real pty with the caller\'s window size; keys reach the shell; exit status passes through', () => {
  const cmd = `stty rows 27 cols 91; ${KAPSEL} run --rm -it busybox sh`;
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { env, input: 'tty; stty size; echo sum-$((40+2))\nexit 4\n', timeout: 60_000 });
  const out = r.stdout.toString();
  assert.equal(r.status, 4, out);
  assert.match(out, /\/dev\/pts\/0/);
  assert.match(out, /27 91/);
  assert.match(out, /sum-42/);
});

test('-i relays stdin to the container, which sees its end', () => {
  const r = kapsel(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'wc -l; exit 2'], 'a\nb\nc\n');
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout.trim(), '3');
});

test('detached: the id is printed, the container outlives the CLI, exec runs in it, logs show it', async () => {
  const id = ok(['run', '-d', '--name', 'cli-det', '-e', 'GREETING=hi', 'busybox', 'sh', '-c', 'i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done']).trim();
  ids.push(id);
  assert.match(id, /^[0-9a-f]{64}$/);
  const ps = JSON.parse(ok(['ps', '--format', 'json']).trim().split('\n')[0]!);
  assert.equal(ps.Names, 'cli-det');
  assert.equal(ps.State, 'running');
  const ex = kapsel(['exec', '-e', 'X=1', 'cli-det', 'sh', '-c', 'echo $GREETING$X; cat /proc/1/cmdline | tr "\\0" " "']);
  assert.equal(ex.status, 0, ex.stderr);
  assert.match(ex.stdout, /^hi1\nsh -c i=0/);
  assert.equal(kapsel(['exec', 'cli-det', 'sh', '-c', 'exit 6']).status, 6);
  await until(() => ok(['logs', 'cli-det']).includes('line 5'));
  const tail = ok(['logs', '--tail', '2', id.slice(0, 10)]).trim().split('\n');
  assert.equal(tail.length, 2);
  assert.match(tail[0]!, /^line \d+$/);
  const stamped = ok(['logs', '-t', '--tail', '1', 'cli-det']);
  assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line \d+\n$/);
  const raw = readFileSync(join(store, 'containers', id, 'container.log'), 'utf8').split('\n')[0]!;
  assert.deepEqual(Object.keys(JSON.parse(raw)), ['log', 'stream', 'time'], 'docker json-file lines');
});

test('logs -f follows a detached container until it exits', () => {
  const id = ok(['run', '-d', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo n$i; sleep 0.3; done']).trim();
  ids.push(id);
  const r = kapsel(['logs', '-f', id]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'n1\nn2\nn3\n');
  assert.equal(ok(['wait', id]).trim(), '0');
});

test('stop: a container that traps the stop signal exits by it; one that ignores it is killed after -t', async () => {
  const trap = ok(['run', '-d', '--name', 'cli-trap', 'busybox', 'sh', '-c', 'trap "echo bye; exit 7" TERM; while true; do sleep 0.1; done']).trim();
  const usr1 = ok(['run', '-d', '--name', 'cli-usr1', '--stop-signal', 'USR1', 'busybox', 'sh', '-c', 'trap "exit 9" USR1; trap "" TERM; while true; do sleep 0.1; done']).trim();
  const deaf = ok(['run', '-d', '--name', 'cli-deaf', 'busybox', 'sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done']).trim();
  ids.push(trap, usr1, deaf);
  await sleepMs(300); // let the shells install their traps
  ok(['stop', 'cli-trap']);
  assert.equal(inspect('cli-trap').State['ExitCode'], 7);
  assert.match(ok(['logs', 'cli-trap']), /bye/);
  ok(['stop', 'cli-usr1']);
  assert.equal(inspect('cli-usr1').State['ExitCode'], 9, '--stop-signal is used');
  ok(['stop', '-t', '1', 'cli-deaf']);
  const s = inspect('cli-deaf').State;
  assert.equal(s['ExitCode'], 137, 'SIGKILL after the timeout');
  assert.equal(s['Running'], false);
  assert.equal(inspect('cli-deaf').RestartCount, 0);
});

test('kill -s sends the signal; start brings an exited container back; restart too', async () => {
  const id = ok(['run', '-d', '--name', 'cli-kill', 'busybox', 'sh', '-c', 'trap "exit 5" USR2; echo started; while true; do sleep 0.1; done']).trim();
  ids.push(id);
  await sleepMs(300);
  ok(['kill', '-s', 'USR2', 'cli-kill']);
  assert.equal(ok(['wait', 'cli-kill']).trim(), '5');
  ok(['start', 'cli-kill']);
  assert.equal(inspect('cli-kill').State['Running'], true);
  await sleepMs(300);
  ok(['restart', '-t', '1', 'cli-kill']);
  assert.equal(inspect('cli-kill').State['Running'], true);
  await until(() => (ok(['logs', 'cli-kill']).match(/started/g) ?? []).length === 3);
  assert.equal((ok(['logs', 'cli-kill']).match(/started/g) ?? []).length, 3, 'three runs logged');
  ok(['kill', 'cli-kill']);
  assert.equal(ok(['wait', 'cli-kill']).trim(), '137');
});

test('--restart on-failure:2 restarts twice; always restarts until stopped', async () => {
  const f = ok(['run', '-d', '--name', 'cli-onf', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 1']).trim();
  ids.push(f);
  // generous: each restart is a new monitor and exit handler, slow on a loaded machine
  await until(() => inspect('cli-onf').RestartCount === 2 && inspect('cli-onf').State['Status'] === 'exited', 120_000);
  await sleepMs(500);
  const i = inspect('cli-onf');
  const why = `record: ${JSON.stringify({ RestartCount: i.RestartCount, State: i.State })}; monitor.log: ${monitorLog(f)}`;
  assert.equal(i.RestartCount, 2, why);
  assert.equal(i.State['Status'], 'exited', why);
  assert.equal(i.State['Error'], '', why);
  assert.equal(i.State['ExitCode'], 1);
  assert.equal(ok(['logs', 'cli-onf']), 'run\nrun\nrun\n');
  const a = ok(['run', '-d', '--name', 'cli-alw', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2; exit 0']).trim();
  ids.push(a);
  await until(() => inspect('cli-alw').RestartCount >= 2, 120_000);
  assert.ok(inspect('cli-alw').RestartCount >= 2, `record: ${JSON.stringify(inspect('cli-alw').State)}; monitor.log: ${monitorLog(a)}`);
  ok(['stop', '-t', '1', 'cli-alw']);
  await sleepMs(1000);
  const stopped = inspect('cli-alw');
  assert.equal(stopped.State['Status'], 'exited', 'a stopped container is not restarted');
  const count = stopped.RestartCount;
  await sleepMs(800);
  assert.equal(inspect('cli-alw').RestartCount, count);
});

test('limits are visible inside the container and enforced (OOM kill -> OOMKilled, 137)', () => {
  const r = kapsel(['run', '--rm', '--memory', '32m', '--pids-limit', '50', '--cpus', '0.5', '--cpu-shares', '512', 'busybox', 'sh', '-c',
    'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; true']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['33554432', '50']);
  const oom = kapsel(['run', '--name', 'cli-oom', '--memory', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c', 'x=a; while true; do x="$x$x"; done']);
  assert.equal(oom.status, 137);
  const s = inspect('cli-oom');
  ids.push(s.Id);
  assert.equal(s.State['OOMKilled'], true);
  assert.equal(s.State['ExitCode'], 137);
  const pids = kapsel(['run', '--rm', '--pids-limit', '5', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait']);
  assert.match(pids.stderr, /can't fork|Resource temporarily unavailable/, 'the pids limit stops the 6th process');
});

test('inspect: docker fields for a running container; names are unique; ids resolve by prefix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-cli-vol-'));
  writeFileSync(join(dir, 'f'), 'from host');
  try {
    const id = ok(['run', '-d', '--name', 'cli-insp', '-e', 'A=b', '-v', `${dir}:/data:ro`, '--memory', '64m', '--restart', 'on-failure:3', 'busybox', 'sleep', '100']).trim();
    ids.push(id);
    const i = inspect('cli-insp');
    assert.equal(i.Id, id);
    assert.equal(i.Name, '/cli-insp');
    assert.equal(i.State['Status'], 'running');
    assert.equal(i.State['Running'], true);
    assert.ok((i.State['Pid'] as number) > 0 && existsSync(`/proc/${i.State['Pid'] as number}`));
    assert.match(i.State['StartedAt'] as string, /^\d{4}-/);
    assert.ok((i.Config['Env'] as string[]).includes('A=b'));
    assert.deepEqual(i.Config['Cmd'], ['sleep', '100']);
    assert.equal(i.HostConfig['Memory'], 64 * 1024 * 1024);
    assert.deepEqual(i.HostConfig['RestartPolicy'], { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.deepEqual(i.Mounts, [{ Type: 'bind', Source: dir, Destination: '/data', Mode: 'ro', RW: false, Propagation: 'rprivate' }]);
    assert.ok(i.NetworkSettings !== undefined);
    assert.equal(ok(['exec', 'cli-insp', 'cat', '/data/f']), 'from host');
    assert.notEqual(kapsel(['exec', 'cli-insp', 'sh', '-c', 'echo x > /data/f']).status, 0, ':ro is read-only');
    assert.equal(inspect(id.slice(0, 8)).Id, id, 'a unique id prefix finds it');
    const dup = kapsel(['run', '-d', '--name', 'cli-insp', 'busybox', 'true']);
    assert.equal(dup.status, 125);
    assert.match(dup.stderr, /the container name `cli-insp` is already in use by container [0-9a-f]{12}/);
    const rmRunning = kapsel(['rm', 'cli-insp']);
    assert.notEqual(rmRunning.status, 0);
    assert.match(rmRunning.stderr, /cannot remove container cli-insp: it is running/);
    const missing = kapsel(['inspect', 'no-such-ctr']);
    assert.equal(missing.status, 125);
    assert.match(missing.stderr, /container or image `no-such-ctr` does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a monitor killed with SIGKILL leaves ps truthful, and rm -f cleans up', async () => {
  const id = ok(['run', '-d', '--name', 'cli-orphan', 'busybox', 'sleep', '1000']).trim();
  ids.push(id);
  const rec = JSON.parse(readFileSync(join(store, 'containers', id, 'container.json'), 'utf8'));
  assert.ok(rec.monitorPid > 0);
  process.kill(rec.monitorPid, 'SIGKILL');
  await until(() => !existsSync(`/proc/${rec.monitorPid}/cmdline`) || readFileSync(`/proc/${rec.monitorPid}/stat`, 'utf8').includes(') Z'));
  const ps = JSON.parse(ok(['ps', '--format', 'json']).trim());
  assert.equal(ps.State, 'running', 'the init still runs: ps says so');
  const pid = inspect('cli-orphan').State['Pid'] as number;
  process.kill(pid, 'SIGKILL');
  await until(() => ok(['ps', '-q']).trim() === '');
  assert.equal(ok(['ps', '-q']).trim(), '', 'the init died: ps no longer lists it as running');
  assert.equal(JSON.parse(ok(['ps', '-a', '--format', 'json']).trim()).State, 'exited');
  ok(['rm', '-f', 'cli-orphan']);
});

test('stats, top, live update, rename and container prune', () => {
  const id = ok(['run', '-d', '--name', 'cli-res', '--memory', '64m', 'busybox', 'sh', '-c', 'while true; do sleep 0.05; done']).trim();
  ids.push(id);
  const stats = JSON.parse(ok(['stats', '--no-stream', '--format', 'json', 'cli-res']).trim());
  assert.equal(stats.Name, 'cli-res');
  assert.equal(stats.MemLimitBytes, 64 * 1024 * 1024);
  assert.ok(stats.Pids >= 1);
  assert.match(ok(['top', 'cli-res']), /sh -c while true/);
  ok(['update', '--memory', '128m', '--pids-limit', '33', 'cli-res']);
  assert.deepEqual(ok(['exec', 'cli-res', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/pids/pids.max']).trim().split('\n'), ['134217728', '33']);
  assert.equal(inspect('cli-res').HostConfig['Memory'], 128 * 1024 * 1024);
  ok(['rename', 'cli-res', 'cli-res2']);
  assert.equal(inspect(id).Name, '/cli-res2');
  assert.equal(kapsel(['inspect', 'cli-res']).status, 125, 'the old name is free');
  const done = ok(['run', '--name', 'cli-done', 'busybox', 'true']);
  assert.equal(done, '');
  const pruned = ok(['container', 'prune']);
  assert.match(pruned, /Total: 1 containers removed/);
  assert.equal(kapsel(['inspect', 'cli-done']).status, 125);
  assert.equal(inspect('cli-res2').State['Running'], true, 'prune leaves running containers');
});

test('the Kapsel class API: run, stats, live update, logs, exec, stop, wait, remove', async () => {
  const { Kapsel } = await import('../index.js');
  const k = await Kapsel.open({ storeRoot: store, stateRoot: state });
  const id = await k.run('busybox', ['sh', '-c', 'trap "exit 4" TERM; echo up; while true; do sleep 0.1; done'], { memory: '32m', name: 'cli-api' });
  ids.push(id);
  assert.equal(k.list().find((r) => r.Id === id)?.State, 'running');
  for await (const s of k.stats(id, { intervalMs: 100 })) {
    assert.equal(s.MemLimitBytes, 32 * 1024 * 1024);
    break;
  }
  await k.update('cli-api', { memory: '48m' });
  assert.equal((k.inspect(id)['HostConfig'] as { Memory: number }).Memory, 48 * 1024 * 1024);
  await until(() => existsSync(join(store, 'containers', id, 'container.log')) && readFileSync(join(store, 'containers', id, 'container.log'), 'utf8').includes('up'));
  assert.deepEqual((await k.logs(id)).map((l) => l.log), ['up\n']);
  await k.stop(id, { timeoutS: 5 });
  assert.equal(await k.wait(id), 4);
  await k.remove(id);
  assert.equal(k.list({ all: true }).some((r) => r.Id === id), false);
});

test('system info counts containers; port names an unknown container', () => {
  const id = ok(['run', '--name', 'cli-info', 'busybox', 'true']);
  assert.equal(id, '');
  const info = JSON.parse(ok(['system', 'info', '--format', 'json']));
  assert.equal(info.Containers, 1);
  assert.equal(info.ContainersStopped, 1);
  assert.equal(info.StoreRoot, store);
  assert.equal(ok(['port', 'cli-info']), '');
  assert.match(kapsel(['port', 'nope']).stderr, /container `nope` does not exist/);
  ids.push(inspect('cli-info').Id);
});

test('concurrent runs with one name: exactly one wins, the others get the name conflict', async () => {
  const { spawn } = await import('node:child_process');
  const runs = await Promise.all([1, 2, 3].map(() => new Promise<Result>((resolve) => {
    const c = spawn(KAPSEL, ['run', '-d', '--name', 'cli-race', 'busybox', 'sleep', '30'], { env });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  })));
  const winners = runs.filter((r) => r.status === 0);
  assert.equal(winners.length, 1, JSON.stringify(runs));
  for (const r of runs.filter((x) => x.status !== 0)) {
    assert.equal(r.status, 125);
    assert.match(r.stderr, /the container name `cli-race` is already in use/);
  }
  ids.push(winners[0]!.stdout.trim());
  assert.equal(JSON.parse(ok(['ps', '-a', '--format', 'json']).trim()).Names, 'cli-race');
});

test('attached run --rm whose client is killed with SIGKILL: the exit handler of the monitor still removes the container', async () => {
  const client = spawn(KAPSEL, ['run', '--rm', '--name', 'cli-kill9', 'busybox', 'sh', '-c', 'sleep 1; exit 4'], { env, stdio: 'ignore' });
  const clientExit = new Promise((r) => client.on('exit', r));
  const running = (): boolean => {
    const r = kapsel(['inspect', 'cli-kill9']);
    return r.status === 0 && (JSON.parse(r.stdout) as Array<{ State: { Running: boolean } }>)[0]!.State.Running;
  };
  await until(running);
  assert.equal(running(), true, 'the container runs');
  const id = inspect('cli-kill9').Id;
  ids.push(id);
  client.kill('SIGKILL');
  await clientExit;
  await until(() => !existsSync(join(store, 'containers', id)));
  assert.equal(existsSync(join(store, 'containers', id)), false, 'removed after it exited');
  assert.equal(kapsel(['inspect', 'cli-kill9']).status, 125);
  assert.equal(kapsel(['ps', '-a', '-q']).stdout, '');
});

test('a detached container that prints without pause is still recorded as started (the monitor reads the CLI\'s "started" before dropping it)', () => {
  // the CLI sends "started" and closes while output is pending: a monitor that dropped the
  // client on the failed output write lost "started" and never saw the init's exit
  for (let i = 0; i < 5; i++) {
    const id = ok(['run', '-d', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done']).trim();
    ids.push(id);
    const r = spawnSync(KAPSEL, ['wait', id], { env, timeout: 30_000 });
    assert.equal(r.status, 0, `wait: ${r.stderr} ${r.signal ?? ''} (monitor log: ${monitorLog(id)})`);
    assert.equal(r.stdout.toString(), '0\n');
    assert.equal(ok(['logs', id]).split('\n').length, 3001, 'every line logged');
    ok(['rm', id]);
  }
});

test('run -d --rm: the exit handler removes the container when it exits', async () => {
  const id = ok(['run', '-d', '--rm', 'busybox', 'sh', '-c', 'sleep 0.5; exit 3']).trim();
  ids.push(id);
  assert.equal(JSON.parse(ok(['inspect', id]))[0].HostConfig.AutoRemove, true);
  await until(() => !existsSync(join(store, 'containers', id)));
  assert.equal(existsSync(join(store, 'containers', id)), false);
  assert.equal(kapsel(['inspect', id]).status, 125);
});

test('json-file logs rotate at --log-opt max-size, keeping max-file files; logs reads them in order', () => {
  const out = ok(['run', '--name', 'cli-rot', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done']);
  assert.equal(out.split('\n').length, 301, 'the attached run printed every line');
  const dir = join(store, 'containers', inspect('cli-rot').Id);
  ids.push(inspect('cli-rot').Id);
  const files = readdirSync(dir).filter((f) => f.startsWith('container.log')).sort();
  assert.deepEqual(files, ['container.log', 'container.log.1', 'container.log.2']);
  for (const f of files.slice(1)) assert.ok(readFileSync(join(dir, f)).length >= 2048 && readFileSync(join(dir, f)).length < 2048 + 200, `${f} was rotated near 2k`);
  const lines = ok(['logs', 'cli-rot']).trim().split('\n');
  assert.equal(lines.at(-1), 'line-299');
  const nums = lines.map((l) => Number(l.slice(5)));
  assert.deepEqual(nums, nums.slice().sort((a, b) => a - b), 'oldest rotated file first, in order, no duplicates');
  assert.ok(nums[0]! > 0, 'the oldest lines were rotated away');
  assert.deepEqual(nums, Array.from({ length: nums.length }, (_, i) => nums[0]! + i), 'nothing lost within the kept files');
});

test('exec -it gives the process a pty of the container with the caller\'s window size', () => {
  const id = ok(['run', '-d', '--name', 'cli-exectty', 'busybox', 'sleep', '100']).trim();
  ids.push(id);
  const cmd = `stty rows 31 cols 97; ${KAPSEL} exec -it cli-exectty sh -c 'tty; stty size; exit 5'`;
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { env, timeout: 60_000 });
  const out = r.stdout.toString();
  assert.equal(r.status, 5, out);
  assert.match(out, /\/dev\/pts\/\d+/);
  assert.match(out, /31 97/);
});

test('--init: pid 1 is kapsel-init, orphans are reaped, stop reaches the child, the exit code passes through', () => {
  // the orphan `sleep 0.2` is re-parented to pid 1 and must not stay a zombie
  const r = kapsel(['run', '--rm', '--init', 'busybox', 'sh', '-c',
    'tr "\\0" " " </proc/1/cmdline; echo; (sleep 0.2 &); sleep 1; ps -o stat,comm | grep -c "^Z" ; exit 7']);
  assert.equal(r.status, 7, r.stderr);
  const [cmdline, zombies] = r.stdout.trim().split('\n');
  assert.match(cmdline ?? '', /^\/dev\/init -- sh -c /);
  assert.equal(zombies, '0', 'no zombie is left');
  const bad = kapsel(['run', '--rm', '--init', 'busybox', 'no-such-command']);
  assert.equal(bad.status, 127, bad.stderr);
  // sleep as pid 1 would ignore SIGTERM (stop would need SIGKILL: 137); under the init it dies of it
  const id = ok(['run', '-d', '--init', '--name', 'cli-init', 'busybox', 'sleep', '1000']).trim();
  ids.push(id);
  assert.equal(inspect('cli-init').HostConfig['Init'], true);
  ok(['stop', '-t', '30', 'cli-init']);
  assert.equal(inspect('cli-init').State['ExitCode'], 143, 'SIGTERM reached sleep through the init');
  const plain = ok(['run', '-d', '--name', 'cli-noinit', 'busybox', 'sleep', '1000']).trim();
  ids.push(plain);
  ok(['stop', '-t', '1', 'cli-noinit']);
  assert.equal(inspect('cli-noinit').State['ExitCode'], 137, 'without --init, sleep as pid 1 ignores SIGTERM');
});

/** A tar stream of `entries` (name, type, content or link target), as a hostile archive would hold. */
async function tarOf(entries: { name: string; type: 'file' | 'symlink' | 'directory'; body?: string; linkname?: string }[]): Promise<Buffer> {
  const { pack } = await import('tar-stream');
  const p = pack();
  for (const e of entries) {
    if (e.type === 'file') p.entry({ name: e.name, type: 'file', mode: 0o644 }, e.body ?? '');
    else p.entry({ name: e.name, type: e.type, mode: 0o755, ...(e.linkname !== undefined && { linkname: e.linkname }) });
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('cp: files and trees in and out of running and stopped containers, owners and modes kept, tar streams with -', () => {
  const h = mkdtempSync(join(tmpdir(), 'kapsel-cli-cp-'));
  try {
    mkdirSync(join(h, 'tree', 'sub'), { recursive: true });
    writeFileSync(join(h, 'tree', 'f'), 'file f\n', { mode: 0o640 });
    chownSync(join(h, 'tree', 'f'), 1234, 55);
    writeFileSync(join(h, 'tree', 'sub', 'g'), 'file g\n');
    symlinkSync('f', join(h, 'tree', 'lnk'));
    const id = ok(['run', '-d', '--name', 'cli-cp', 'busybox', 'sh', '-c', 'mkdir /data; echo inside > /data/x; sleep 1000']).trim();
    ids.push(id);
    ok(['cp', join(h, 'tree'), 'cli-cp:/data']);
    assert.equal(ok(['exec', 'cli-cp', 'sh', '-c', 'stat -c "%a %u %g" /data/tree/f; cat /data/tree/f /data/tree/sub/g; readlink /data/tree/lnk']),
      '640 1234 55\nfile f\nfile g\nf\n');
    ok(['cp', join(h, 'tree', 'f'), 'cli-cp:/data/renamed']);
    assert.equal(ok(['exec', 'cli-cp', 'cat', '/data/renamed']), 'file f\n');
    ok(['cp', 'cli-cp:/data', join(h, 'out')]);
    assert.equal(readFileSync(join(h, 'out', 'x'), 'utf8'), 'inside\n');
    assert.equal(readFileSync(join(h, 'out', 'tree', 'sub', 'g'), 'utf8'), 'file g\n');
    assert.equal(statSync(join(h, 'out', 'tree', 'f')).uid, 1234);
    assert.equal(statSync(join(h, 'out', 'tree', 'f')).mode & 0o777, 0o640);
    assert.equal(readlinkSync(join(h, 'out', 'tree', 'lnk')), 'f');
    // - : a tar stream on stdout and from stdin
    const listed = spawnSync('tar', ['tf', '-'], { input: spawnSync(KAPSEL, ['cp', 'cli-cp:/data/tree', '-'], { env }).stdout });
    assert.deepEqual(listed.stdout.toString().trim().split('\n').sort(), ['tree/', 'tree/f', 'tree/lnk', 'tree/sub/', 'tree/sub/g']);
    const tarIn = spawnSync('tar', ['cf', '-', '-C', h, 'tree']).stdout;
    const r = kapsel(['cp', '-', 'cli-cp:/tmp'], tarIn);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(ok(['exec', 'cli-cp', 'cat', '/tmp/tree/sub/g']), 'file g\n');
    // a stopped container: its rootfs
    ok(['stop', '-t', '1', 'cli-cp']);
    ok(['cp', join(h, 'tree', 'sub', 'g'), 'cli-cp:/data/while-stopped']);
    ok(['cp', 'cli-cp:/data/x', join(h, 'x-from-stopped')]);
    assert.equal(readFileSync(join(h, 'x-from-stopped'), 'utf8'), 'inside\n');
    ok(['start', 'cli-cp']);
    assert.equal(ok(['exec', 'cli-cp', 'cat', '/data/while-stopped']), 'file g\n');
    // missing paths: clear errors, non-zero
    const miss = kapsel(['cp', 'cli-cp:/no/such', join(h, 'y')]);
    assert.equal(miss.status, 125);
    assert.match(miss.stderr, /container cli-cp: `\/no\/such` does not exist/);
    const missHost = kapsel(['cp', join(h, 'nope'), 'cli-cp:/']);
    assert.match(missHost.stderr, /host path `.*nope` does not exist/);
    const missDir = kapsel(['cp', join(h, 'tree', 'f'), 'cli-cp:/no/dir/']);
    assert.match(missDir.stderr, /directory `\/no\/dir\/` does not exist/);
    assert.match(kapsel(['cp', join(h, 'a'), join(h, 'b')]).stderr, /exactly one of SRC and DST/);
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});

test('cp: container symlinks never reach the host (reading, writing, hostile tar streams)', async () => {
  const h = mkdtempSync(join(tmpdir(), 'kapsel-cli-cpx-'));
  try {
    writeFileSync(join(h, 'shadow'), 'host secret\n');
    mkdirSync(join(h, 'hostdir'));
    const id = ok(['run', '-d', '--name', 'cli-cpx', 'busybox', 'sh', '-c',
      `ln -s ${h}/shadow /evil; ln -s ${h}/hostdir /evildir; ln -s ../../../../${h}/hostdir /up; sleep 1000`]).trim();
    ids.push(id);
    // reading: the symlink is copied as a symlink; following it stays in the container (no such file)
    ok(['cp', 'cli-cpx:/evil', join(h, 'got')]);
    assert.equal(readlinkSync(join(h, 'got')), `${h}/shadow`, 'copied as a symlink, not as the host file');
    const through = kapsel(['cp', 'cli-cpx:/evildir/x', join(h, 'got2')]);
    assert.notEqual(through.status, 0);
    assert.ok(!existsSync(join(h, 'got2')));
    const tarOut = spawnSync(KAPSEL, ['cp', 'cli-cpx:/evil', '-'], { env }).stdout.toString();
    assert.ok(!tarOut.includes('host secret'), 'no host content in the stream');
    // writing: to the symlink's name replaces the link in the container; through it creates in-root
    writeFileSync(join(h, 'payload'), 'payload\n');
    ok(['cp', join(h, 'payload'), 'cli-cpx:/evil']);
    assert.equal(readFileSync(join(h, 'shadow'), 'utf8'), 'host secret\n');
    assert.equal(ok(['exec', 'cli-cpx', 'cat', '/evil']), 'payload\n');
    for (const dst of ['cli-cpx:/evildir/', 'cli-cpx:/up/']) assert.notEqual(kapsel(['cp', join(h, 'payload'), dst]).status, 0);
    // hostile streams: a symlink to the host dir then a file through it; `..` climbing in a link
    const viaLink = await tarOf([
      { name: 'l', type: 'symlink', linkname: `${h}/hostdir` },
      { name: 'l/through-link', type: 'file', body: 'x' },
    ]);
    const r1 = kapsel(['cp', '-', 'cli-cpx:/tmp'], viaLink);
    assert.match(r1.stderr, /`\/tmp\/l` is not a directory/, 'the link resolves in the container, where its target is missing');
    const viaDots = await tarOf([
      { name: 'up', type: 'symlink', linkname: '../../../../../..' },
      { name: `up${h}/hostdir/through-dots`, type: 'file', body: 'in the container\n' },
    ]);
    const r2 = kapsel(['cp', '-', 'cli-cpx:/tmp'], viaDots);
    assert.equal(r2.status, 0, r2.stderr);
    assert.deepEqual(readdirSync(join(h, 'hostdir')), [], 'nothing written outside the container');
    assert.equal(ok(['exec', 'cli-cpx', 'cat', `${h}/hostdir/through-dots`]), 'in the container\n');
    const climb = await tarOf([{ name: '../../../../escape', type: 'file', body: 'x' }]);
    const c = kapsel(['cp', '-', 'cli-cpx:/tmp'], climb);
    assert.notEqual(c.status, 0);
    assert.match(c.stderr, /entry `\.\.\/\.\.\/\.\.\/\.\.\/escape`/);
    // a hostile container tree copied out cannot write beside the destination either
    ok(['exec', 'cli-cpx', 'sh', '-c', `mkdir -p /t && ln -s ${h}/hostdir /t/l`]);
    ok(['cp', 'cli-cpx:/t', join(h, 'out')]);
    assert.deepEqual(readdirSync(join(h, 'hostdir')), []);
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});
