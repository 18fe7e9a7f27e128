/**
 * v2 device access control: the eBPF filter from device-bpf.ts, loaded and attached to the
 * cgroup directory by an injected function (the bpf(2) syscall lives in sys/).
 */

import { KapselError } from '../../common/errors.js';
import type { CgroupFs } from '../cgroup-fs.js';
import type { DeviceCgroupRule } from '../../oci/runtime-spec.js';
import { deviceFilterProgram } from './device-bpf.js';

/**
 * Loads `insns` as BPF_PROG_TYPE_CGROUP_DEVICE (license DEVICE_PROGRAM_LICENSE) and attaches
 * it to the cgroup open at `cgroupDirFd` with BPF_CGROUP_DEVICE. On update, the previously
 * attached program should be replaced (runc attaches with BPF_F_ALLOW_MULTI, then detaches
 * the old ones), or programs accumulate and the strictest wins.
 */
export type DeviceProgramLoader = (cgroupDirFd: number, insns: Buffer) => void;

export function applyDevicesV2(
  dir: string,
  devices: readonly DeviceCgroupRule[] | undefined,
  fs: CgroupFs,
  loader: DeviceProgramLoader | undefined,
): void {
  if (devices === undefined) return;
  const program = deviceFilterProgram(devices);
  if (loader === undefined) {
    throw new KapselError('ERR_CGROUP_DEVICES_UNSUPPORTED', `apply device rules to \`${dir}\`: no eBPF loader`, {
      hint: 'cgroup v2 device rules need loadAndAttachDeviceProgram (bpf(2))',
    });
  }
  const fd = fs.openDirectory(dir);
  try {
    loader(fd, program);
  } finally {
    fs.close(fd);
  }
}
