/**
 * Which accelerator a VM runs with. KVM needs hardware virtualization (VMX or SVM in
 * /proc/cpuinfo) and a /dev/kvm this process can open; a /dev/kvm without VMX/SVM is a
 * software KVM (PVM), under which stock guest kernels fail (only PVM-enabled guests boot), so
 * kapsel uses QEMU's TCG emulation there, as it does when there is no /dev/kvm at all.
 */
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { KapselError } from '../common/errors.js';

export type Accelerator = 'kvm' | 'tcg';
export type KvmDevice = 'usable' | 'missing' | 'no-access';

export interface AcceleratorInfo {
  readonly accelerator: Accelerator;
  /** vmx, svm or none. */
  readonly cpuVirtualization: 'vmx' | 'svm' | 'none';
  readonly kvmDevice: KvmDevice;
  /** One line for logs and `state`: why this accelerator. */
  readonly note: string;
}

export function cpuVirtualization(cpuinfo: string): 'vmx' | 'svm' | 'none' {
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.split(/\s+/) ?? [];
  if (flags.includes('vmx')) return 'vmx';
  if (flags.includes('svm')) return 'svm';
  return 'none';
}

/** Pure decision from what the host offers; `forced` is the user's choice (kvm or tcg). */
export function chooseAccelerator(cpuinfo: string, kvm: KvmDevice, forced?: string): AcceleratorInfo {
  const virt = cpuVirtualization(cpuinfo);
  if (forced !== undefined && forced !== '' && forced !== 'kvm' && forced !== 'tcg' && forced !== 'auto') {
    throw new KapselError('ERR_CONFIG_INVALID', `unknown VM accelerator \`${forced}\``, { hint: 'use kvm, tcg or auto' });
  }
  if (forced === 'tcg') return { accelerator: 'tcg', cpuVirtualization: virt, kvmDevice: kvm, note: 'tcg (software emulation, chosen by configuration)' };
  if (virt !== 'none' && kvm === 'usable') {
    return { accelerator: 'kvm', cpuVirtualization: virt, kvmDevice: kvm, note: `kvm (hardware virtualization: ${virt})` };
  }
  let why: string;
  if (kvm === 'missing') why = 'no /dev/kvm';
  else if (kvm === 'no-access') why = '/dev/kvm cannot be opened by this user';
  else why = '/dev/kvm without VMX/SVM is a software KVM (PVM): stock guest kernels do not boot under it';
  if (forced === 'kvm') {
    throw new KapselError('ERR_VM_ACCELERATOR', `kvm requested but not usable: ${why}`, { hint: 'drop the accelerator setting to fall back to tcg' });
  }
  return { accelerator: 'tcg', cpuVirtualization: virt, kvmDevice: kvm, note: `tcg (software emulation, slow: ${why})` };
}

export function kvmDeviceState(path = '/dev/kvm'): KvmDevice {
  try {
    closeSync(openSync(path, constants.O_RDWR));
    return 'usable';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENXIO' || code === 'ENODEV' ? 'missing' : 'no-access';
  }
}

export function detectAccelerator(forced?: string): AcceleratorInfo {
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // no /proc: treat as no hardware virtualization
  }
  return chooseAccelerator(cpuinfo, kvmDeviceState(), forced);
}
