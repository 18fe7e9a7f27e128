// `kapsel run --isolation vm`: the kapsel engine runs the container in a microVM (the annotation
// run.kapsel.isolation=vm for the runtime; kapsel-vmm runs under the container's monitor). The
// process sees the guest kernel and the memory --memory leaves it, stdout and stderr stay apart,
// the exit status passes through, --rm and stop -t of a guest that ignores TERM work, and
// nothing is left: no kapsel-vmm or QEMU process, cgroup, runtime state, container directory or
// mount. Each boot takes seconds under TCG: two boots in all.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, cgroupsNamed, mountsUnder, sleepMs } from './helpers.js';
import { defaultKernelPath, readKernelRelease } from '../microvm/kernel.js';
import { detectAccelerator } from '../microvm/accelerator.js';
import { VMM_OVERHEAD_MIB } from '../microvm/resources.js';

const KAPSEL = join(REPO, 'bin', 'kapsel');
const store = mkdtempSync(join(tmpdir(), 'kapsel-vmwire-store-'));
const state = mkdtempSync(join(tmpdir(), 'kapsel-vmwire-state-'));
const env = { ...process.env, KAPSEL_STORE: store, KAPSEL_STATE: state };

interface Result { status: number | null; stdout: string; stderr: string }

function kapsel(args: string[]): Result {
  const r = spawnSync(KAPSEL, args, { env, timeout: 180_000 });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function ok(args: string[]): string {
  const r = kapsel(args);
  assert.equal(r.status, 0, `kapsel ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    out.push(...readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter((x) => x.trim() !== '').map(Number));
  }
  return out;
}

/** Host processes whose command line names our store or state root (monitor, kapsel-vmm, QEMU). */
function processesOfRoots(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(store) || cmd.includes(state)) out.push(`${pid} ${cmd.replaceAll('\0', ' ')}`);
    } catch {
      // exited
    }
  }
  return out;
}

async function until(fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn() && Date.now() < deadline) await sleepMs(50);
}

afterEach(async () => {
  for (const id of kapsel(['ps', '-a', '-q']).stdout.split('\n').filter(Boolean)) kapsel(['rm', '-f', id]);
  await until(() => processesOfRoots().length === 0, 5000);
  assert.deepEqual(processesOfRoots(), [], 'no monitor, kapsel-vmm or QEMU process is left');
  assert.deepEqual(readdirSync(state), [], 'no runtime state is left');
  const left = existsSync(join(store, 'containers')) ? readdirSync(join(store, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
  assert.deepEqual(left, [], 'no container directory is left');
  assert.deepEqual(mountsUnder(store), []);
  assert.deepEqual(mountsUnder(state), []);
});

after(() => {
  rmSync(store, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
});

test('--isolation vm refuses what a VM container cannot do yet, before anything is created', () => {
  for (const [flags, what] of [[['-v', '/tmp:/mnt'], /-v\/--volume not supported for VM containers/], [['--network', 'bridge'], /--network bridge not supported/], [['-t'], /-t\/--tty not supported/]] as const) {
    const r = kapsel(['run', '--rm', '--isolation', 'vm', ...flags, 'busybox', 'true']);
    assert.equal(r.status, 125, r.stderr);
    assert.match(r.stderr, what);
  }
  const bad = kapsel(['run', '--rm', '--isolation', 'hyperv', 'busybox', 'true']);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /invalid --isolation `hyperv`/);
});

test('run --rm --isolation vm: guest kernel, memory from --memory, stdout and stderr apart, exit status', () => {
  const kernel = defaultKernelPath();
  assert.ok(kernel !== undefined && existsSync(kernel), 'no /boot/vmlinuz-*-cloud-amd64: install linux-image-cloud-amd64');
  const r = kapsel(['run', '--rm', '--isolation', 'vm', '--memory', '448m', 'busybox', 'sh', '-c', 'uname -r; grep MemTotal /proc/meminfo; hostname; echo err >&2; exit 3']);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stderr, 'err\n', 'stderr holds only what the process wrote to it');
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], readKernelRelease(kernel!), 'uname -r is the release of the kernel that was booted');
  assert.notEqual(lines[0], release(), 'not the host kernel');
  // the limit covers the VMM too: 448 MiB - its overhead is the guest's RAM; the kernel keeps some
  const guestMiB = 448 - VMM_OVERHEAD_MIB[detectAccelerator(process.env['KAPSEL_VM_ACCELERATOR']).accelerator];
  const memKiB = Number(/MemTotal:\s+(\d+) kB/.exec(r.stdout)?.[1]);
  assert.ok(memKiB > guestMiB * 1024 * 0.8 && memKiB <= guestMiB * 1024, `MemTotal ${memKiB} kB for ${guestMiB} MiB of guest RAM`);
  // the hostname is the id's first 12 characters: no cgroup of it is left
  const short = lines[2] ?? '';
  assert.match(short, /^[0-9a-f]{12}$/);
  assert.deepEqual(cgroupsUnderKapsel().filter((n) => n.startsWith(short)), [], 'no cgroup of the container is left');
  assert.equal(kapsel(['ps', '-a', '-q']).stdout, '', '--rm removed the container');
});

function cgroupsUnderKapsel(): string[] {
  try {
    return readdirSync('/sys/fs/cgroup/kapsel');
  } catch {
    return [];
  }
}

test('run -d --isolation vm, logs, exec refused, stop -t 1 kills a guest that ignores TERM, rm', async () => {
  const name = `vmwire-${process.pid}`;
  const id = ok(['run', '-d', '--isolation', 'vm', '--name', name, 'busybox', 'sh', '-c', "trap '' TERM; echo up; sleep 1000"]).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  await until(() => kapsel(['logs', name]).stdout.includes('up'), 60_000);
  assert.equal(kapsel(['logs', name]).stdout, 'up\n');
  const ins = JSON.parse(ok(['inspect', name]))[0];
  assert.equal(ins.State.Status, 'running');
  assert.equal(ins.HostConfig.Isolation, 'vm');
  const pid = ins.State.Pid as number;
  // the runtime's record: the container's pid is kapsel-vmm, its child QEMU, both in its cgroup
  const rt = JSON.parse(readFileSync(join(state, id, 'state.json'), 'utf8')) as { pid: number; cgroupPaths: Record<string, string>; annotations: Record<string, string> };
  assert.equal(rt.pid, pid);
  assert.equal(rt.annotations['run.kapsel.vm.supervisor'], 'kapsel-vmm');
  const cgroups = Object.values(rt.cgroupPaths);
  assert.ok(cgroups.length > 0 && cgroups.every((p) => existsSync(p)));
  const vmmChildren = childrenOf(pid);
  assert.ok(vmmChildren.length > 0, 'kapsel-vmm runs the VMM as its child');
  // kapsel-vmm is the monitor's child, so the monitor reaps it and records the exit
  const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  assert.match(readFileSync(`/proc/${ppid}/cmdline`, 'utf8'), /kapsel-monitor/);

  const ex = kapsel(['exec', name, 'true']);
  assert.notEqual(ex.status, 0);
  assert.match(ex.stderr, /exec into VM container .* is not supported yet/);

  // TERM is ignored in the guest: stop kills the VM when the 1 s timeout passes
  ok(['stop', '-t', '1', name]);
  assert.equal(alive(pid), false, 'kapsel-vmm is gone');
  await until(() => vmmChildren.every((p) => !alive(p)), 5000);
  for (const p of vmmChildren) assert.equal(alive(p), false, `VMM process ${p} is gone`);
  const after = JSON.parse(ok(['inspect', name]))[0];
  assert.equal(after.State.Status, 'exited');
  assert.equal(after.State.ExitCode, 137);
  assert.match(ok(['ps', '-a']), new RegExp(`Exited \\(137\\).*${name}`));
  assert.equal(existsSync(join(state, id)), false, 'the runtime state went with the exit');
  for (const p of cgroups) assert.equal(existsSync(p), false, `cgroup ${p} is removed`);
  assert.deepEqual(cgroupsNamed(id), []);
  ok(['rm', name]);
  assert.equal(kapsel(['inspect', name]).status, 125);
});
