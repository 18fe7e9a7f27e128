/**
 * Resource fields a driver accepts but cannot apply, reported as debug notes rather than
 * errors, because runtimes (runc, crun) accept them too and configs carry them routinely.
 */

import type { Resources } from '../oci/runtime-spec.js';

export function ignoredResourceNotes(resources: Resources, version: 1 | 2): string[] {
  const notes: string[] = [];
  const m = resources.memory;
  if (m?.kernel !== undefined || m?.kernelTCP !== undefined) {
    notes.push('memory.kernel and memory.kernelTCP ignored: kernel memory limits are deprecated (removed in Linux 5.16)');
  }
  if (version === 2) {
    if (m?.swappiness !== undefined && m.swappiness !== -1) notes.push('memory.swappiness ignored: cgroup v2 has no per-cgroup swappiness');
    if (m?.disableOOMKiller === true) notes.push('memory.disableOOMKiller ignored: cgroup v2 cannot disable the OOM killer per cgroup');
    if (m?.useHierarchy !== undefined) notes.push('memory.useHierarchy ignored: cgroup v2 is always hierarchical');
    const io = resources.blockIO;
    if (io?.leafWeight !== undefined || (io?.weightDevice ?? []).some((d) => d.leafWeight !== undefined)) {
      notes.push('blockIO leaf weights ignored: cgroup v2 has none');
    }
    if (resources.network?.classID !== undefined || (resources.network?.priorities ?? []).length > 0) {
      notes.push('network classID/priorities ignored: net_cls and net_prio do not exist in cgroup v2');
    }
  }
  return notes;
}
