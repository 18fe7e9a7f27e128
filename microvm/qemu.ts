/**
 * The QEMU backend: qemu-system-x86_64 with `-M q35` (ACPI for power-off and more than one
 * vCPU; -M microvm stalled under TCG, see README "MicroVM isolation"), no defaults, no user
 * config, no display, direct kernel boot (QEMU's built-in linuxboot option ROM, no firmware
 * boot menu), one virtio-serial port for the control channel, virtio-blk for disks.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { KapselError } from '../common/errors.js';
import type { BootOptions, Hypervisor, PreparedVm, VmDefinition } from './hypervisor.js';
import { nativeBinaryPath } from '../common/install-paths.js';

export const DEFAULT_QEMU = 'qemu-system-x86_64';

export function vmmSupervisorPath(): string {
  return process.env['KAPSEL_VMM'] ?? nativeBinaryPath('kapsel-vmm');
}

/** The QEMU command line for a definition (pure). */
export function qemuArgs(binary: string, def: VmDefinition): string[] {
  const kvm = def.accelerator.accelerator === 'kvm';
  const args = [
    binary,
    '-nodefaults', '-no-user-config', '-nographic', '-monitor', 'none',
    '-M', 'q35,smbus=off,sata=off,usb=off,vmport=off,graphics=off',
    '-accel', kvm ? 'kvm' : 'tcg,tb-size=64',
    '-cpu', kvm ? 'host' : 'max',
    '-smp', String(def.vcpus),
    '-m', `${def.memoryMiB}M`,
    '-kernel', def.kernel,
    '-initrd', def.initrd,
    '-append', def.cmdline,
    '-no-reboot',
    '-chardev', `file,id=console,path=${def.log},append=on`,
    '-serial', 'chardev:console',
    '-device', 'virtio-serial-pci,id=kapsel-serial',
    '-chardev', 'socket,id=kapsel-ctl,fd=3',
    '-device', `virtserialport,bus=kapsel-serial.0,chardev=kapsel-ctl,name=${def.controlPort}`,
  ];
  def.disks.forEach((d, i) => {
    if (/[,=]/.test(d.path)) throw new KapselError('ERR_CONFIG_INVALID', `VM disk path \`${d.path}\` contains , or =`);
    args.push('-drive', `file=${d.path},if=none,id=disk${i},format=${d.format}${d.readOnly ? ',readonly=on' : ''}`, '-device', `virtio-blk-pci,drive=disk${i}`);
  });
  args.push(...(def.extraArgs ?? []));
  return args;
}

function findExecutable(name: string): string | undefined {
  const candidates = name.includes('/') ? [name] : (process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      // next
    }
  }
  return undefined;
}

export class QemuHypervisor implements Hypervisor {
  readonly name = 'qemu';

  constructor(private readonly binary: string = DEFAULT_QEMU) {}

  prepare(def: VmDefinition): PreparedVm {
    const path = findExecutable(this.binary);
    if (path === undefined) {
      throw new KapselError('ERR_VM_HYPERVISOR', `hypervisor \`${this.binary}\` not found`, {
        hint: isAbsolute(this.binary) ? 'fix vm.hypervisor.path' : 'install qemu-system-x86 (apt-get install qemu-system-x86)',
      });
    }
    if (!existsSync(def.kernel)) throw new KapselError('ERR_VM_KERNEL', `guest kernel \`${def.kernel}\` does not exist`);
    return { argv: qemuArgs(path, def), definition: def };
  }

  boot(vm: PreparedVm, opts: BootOptions): number {
    const supervisor = vmmSupervisorPath();
    const errorFile = `${opts.pidFile}.error`;
    const args = ['--pid-file', opts.pidFile, '--fifo', opts.fifo, '--log', vm.definition.log, '--error-file', errorFile];
    for (const p of opts.cgroupProcs) args.push('--cgroup-procs', p);
    let status: number | null;
    if (opts.run !== undefined) {
      if (!existsSync(supervisor)) throw new KapselError('ERR_VM_BOOT', `start \`${supervisor}\`: no such file`, { hint: 'build the native helpers: make -C native' });
      const w = opts.run([resolve(supervisor), ...args, '--', ...vm.argv]);
      // wait(2) status: exited normally -> its code, else (a signal) no code
      status = (w & 0x7f) === 0 ? (w >> 8) & 0xff : null;
    } else {
      // stdio inherited: the supervisor keeps it for the container's process
      const r = spawnSync(supervisor, [...args, '--', ...vm.argv], { stdio: 'inherit' });
      if (r.error !== undefined) throw new KapselError('ERR_VM_BOOT', `start \`${supervisor}\`: ${r.error.message}`, { cause: r.error, hint: 'build the native helpers: make -C native' });
      status = r.status;
    }
    if (status !== 0) {
      const text = safeRead(errorFile).trim().replace(/^kapsel-vmm: /, '');
      rmSync(errorFile, { force: true });
      throw new KapselError('ERR_VM_BOOT', `start the VM: ${text || `kapsel-vmm exit status ${String(status)}`}`);
    }
    return Number(readFileSync(opts.pidFile, 'utf8'));
  }

  kill(pid: number, signal: number): void {
    process.kill(pid, signal);
  }

  async wait(pid: number, pollMs = 20): Promise<void> {
    while (existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(safeRead(`/proc/${pid}/status`))) {
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
