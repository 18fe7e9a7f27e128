/**
 * OCI resources → the VM's size. The cgroup limits the VMM process (guest RAM plus the VMM's
 * own memory), so the guest gets the memory limit minus an allowance for QEMU itself
 * (TCG's translation cache is capped at 64 MiB by qemu.ts); the CPU quota becomes vCPUs.
 */
import { KapselError } from '../common/errors.js';
import type { Resources } from '../oci/runtime-spec.js';
import type { Accelerator } from './accelerator.js';
import { nativeBinaryPath } from '../common/install-paths.js';

const MiB = 1024 * 1024;
export const DEFAULT_GUEST_MIB = 256;
export const MIN_GUEST_MIB = 64;
/** Measured VMM RSS besides guest RAM (README "MicroVM isolation"), rounded up. */
export const VMM_OVERHEAD_MIB: Record<Accelerator, number> = { kvm: 48, tcg: 128 };

export interface VmResources {
  readonly vcpus: number;
  readonly memoryMiB: number;
}

export function planVmResources(r: Resources | undefined, accel: Accelerator): VmResources {
  const quota = r?.cpu?.quota;
  const period = r?.cpu?.period ?? 100_000;
  const vcpus = quota !== undefined && quota > 0 && period > 0 ? Math.max(1, Math.ceil(quota / period)) : 1;
  const limit = r?.memory?.limit;
  let memoryMiB = DEFAULT_GUEST_MIB;
  if (limit !== undefined && limit > 0) {
    memoryMiB = Math.floor(limit / MiB) - VMM_OVERHEAD_MIB[accel];
    if (memoryMiB < MIN_GUEST_MIB) {
      throw new KapselError('ERR_VM_RESOURCES', `memory limit ${Math.floor(limit / MiB)} MiB is too small for a VM container`, {
        hint: `allow at least ${MIN_GUEST_MIB + VMM_OVERHEAD_MIB[accel]} MiB (${MIN_GUEST_MIB} MiB guest + ${VMM_OVERHEAD_MIB[accel]} MiB for the VMM with ${accel})`,
      });
    }
  }
  return { vcpus, memoryMiB };
}

export function guestInitPath(): string {
  return process.env['KAPSEL_GUEST_INIT'] ?? nativeBinaryPath('kapsel-guest-init');
}
