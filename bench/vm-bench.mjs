#!/usr/bin/env node
/**
 * VM containers: time from `kapsel-runtime run` of a VM container (run.kapsel.isolation=vm) to
 * the command's first output, and the VMM's peak RSS, side by side with plain
 * qemu-system-x86_64 booting the same kernel with an initramfs of busybox and the same virtio
 * modules whose /init prints the same line to the serial console. Interleaved, as root.
 *
 *   node bench/vm-bench.mjs [--iterations 3] [--append]   (--append: add to bench/RESULTS.md)
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNTIME = join(REPO, 'bin', 'kapsel-runtime');
const { defaultKernelPath, readKernelRelease } = await import(join(REPO, 'dist/microvm/kernel.js'));
const { guestModules } = await import(join(REPO, 'dist/microvm/modules.js'));
const { CpioWriter, S_IFDIR, S_IFREG } = await import(join(REPO, 'dist/microvm/cpio.js'));
const { addTree } = await import(join(REPO, 'dist/microvm/initramfs.js'));
const { detectAccelerator } = await import(join(REPO, 'dist/microvm/accelerator.js'));

const argv = process.argv.slice(2);
const iterations = Number(argv[argv.indexOf('--iterations') + 1] || 3) || 3;
const append = argv.includes('--append');
const kernel = defaultKernelPath();
if (!kernel) throw new Error('no /boot/vmlinuz-*-cloud-amd64: apt-get install linux-image-cloud-amd64');
const accel = detectAccelerator();
const work = mkdtempSync(join(tmpdir(), 'kapsel-vm-bench-'));

function busyboxTree(dir) {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin', 'busybox'));
  for (const a of ['sh', 'echo', 'sleep', 'cat', 'poweroff']) symlinkSync('busybox', join(dir, 'bin', a));
}

// the VM container's bundle
const bundle = join(work, 'bundle');
busyboxTree(join(bundle, 'rootfs'));
spawnSync(RUNTIME, ['spec', '-b', bundle]);
const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
spec.process.terminal = false;
spec.process.args = ['sh', '-c', 'echo first; sleep 1'];
spec.annotations = { 'run.kapsel.isolation': 'vm' };
writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));

// the plain initramfs: busybox, the same modules, an /init that prints and powers off
const release = readKernelRelease(kernel);
const plainDir = join(work, 'plain');
busyboxTree(plainDir);
writeFileSync(join(plainDir, 'init'), '#!/bin/sh\necho first\nsleep 1\npoweroff -f\n', { mode: 0o755 });
const initrd = join(work, 'plain.img');
const plain = new CpioWriter();
for (const name of readdirSync(plainDir)) addTree(plain, join(plainDir, name), name);
plain.add({ name: 'kapsel', mode: S_IFDIR | 0o755 });
for (const m of guestModules(`/lib/modules/${release}`, ['virtio_pci', 'virtio_console'])) plain.add({ name: `kapsel/${m.name}.ko`, mode: S_IFREG | 0o644, data: readFileSync(m.hostPath) });
writeFileSync(initrd, Buffer.concat(plain.finish()));

function vmRss(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Runs cmd; resolves { firstMs, peakRssKiB } where RSS is that of the qemu process found by findQemu. */
function measure(cmd, args, findQemu) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let firstMs;
    let peak = 0;
    let out = '';
    let err = '';
    const timer = setInterval(() => {
      for (const q of findQemu(child.pid)) peak = Math.max(peak, vmRss(q));
    }, 50);
    child.stdout.on('data', (d) => {
      out += d;
      if (firstMs === undefined && out.includes('first')) firstMs = performance.now() - t0;
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      clearInterval(timer);
      if (firstMs === undefined) reject(new Error(`${cmd}: no output (exit ${code}): ${err}`));
      else resolve({ firstMs, peakRssKiB: peak });
    });
  });
}

const qemuOf = (qemuPid) => [qemuPid];
const comm = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8');
  } catch {
    return '';
  }
};
const kapselQemu = (runtimePid) => childPids(runtimePid).flatMap((sup) => childPids(sup)).filter((p) => /qemu/.test(comm(p)));
const plainArgs = ['-nodefaults', '-no-user-config', '-nographic', '-monitor', 'none', '-M', 'q35,smbus=off,sata=off,usb=off,vmport=off,graphics=off',
  '-accel', accel.accelerator === 'kvm' ? 'kvm' : 'tcg,tb-size=64', '-cpu', accel.accelerator === 'kvm' ? 'host' : 'max', '-smp', '1', '-m', '256M',
  '-kernel', kernel, '-initrd', initrd, '-append', 'console=ttyS0 quiet panic=-1', '-no-reboot', '-serial', 'stdio'];

const results = { kapsel: [], qemu: [] };
try {
  for (let i = 0; i < iterations; i++) {
    const order = i % 2 === 0 ? ['kapsel', 'qemu'] : ['qemu', 'kapsel'];
    for (const which of order) {
      if (which === 'kapsel') results.kapsel.push(await measure(RUNTIME, ['--root', join(work, 'state'), 'run', '-b', bundle, `vmbench-${process.pid}-${i}`], kapselQemu));
      else results.qemu.push(await measure('qemu-system-x86_64', plainArgs, qemuOf));
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const k = { first: median(results.kapsel.map((r) => r.firstMs)), rss: median(results.kapsel.map((r) => r.peakRssKiB)) / 1024 };
const q = { first: median(results.qemu.map((r) => r.firstMs)), rss: median(results.qemu.map((r) => r.peakRssKiB)) / 1024 };
const table = [
  `## VM containers (bench/vm-bench.mjs)`,
  '',
  `Generated by \`node bench/vm-bench.mjs --iterations ${iterations}\` on ${new Date().toISOString()}; kernel ${release}, accelerator: ${accel.note}. Medians of ${iterations} interleaved runs; the guest runs \`sh -c 'echo first; sleep 1'\`.`,
  '',
  '| | to first output ms | vs plain QEMU | VMM peak RSS MiB |',
  '| --- | ---: | ---: | ---: |',
  `| \`kapsel-runtime run\` (VM container, 256 MiB guest) | ${k.first.toFixed(0)} | ${(k.first / q.first).toFixed(2)}× | ${k.rss.toFixed(1)} |`,
  `| plain \`qemu-system-x86_64\` (same kernel, busybox initramfs, 256 MiB) | ${q.first.toFixed(0)} | 1.00× | ${q.rss.toFixed(1)} |`,
  '',
  `All runs (ms): kapsel ${results.kapsel.map((r) => r.firstMs.toFixed(0)).join(', ')}; qemu ${results.qemu.map((r) => r.firstMs.toFixed(0)).join(', ')}.`,
  '',
].join('\n');
process.stdout.write(`${table}\n`);
if (append) appendFileSync(join(REPO, 'bench', 'RESULTS.md'), `\n${table}`);
