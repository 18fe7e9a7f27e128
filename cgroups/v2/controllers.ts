/**
 * Controller delegation on cgroup v2 (Documentation/admin-guide/cgroup-v2.rst "Enabling and
 * Disabling"): a controller's files appear in a cgroup only when its parent lists the
 * controller in cgroup.subtree_control. So every ancestor from the mount root down to the
 * leaf's parent must enable it. On a real v2 host that includes the root's subtree_control,
 * as runc and systemd do. Only controllers the resources need are enabled.
 */

import { KapselError } from '../../common/errors.js';
import type { Resources } from '../../oci/runtime-spec.js';
import { unifiedKeyController } from './unified.js';

function defined(...values: readonly (number | string | undefined)[]): boolean {
  return values.some((v) => v !== undefined && v !== 0 && v !== '');
}

/** The v2 controllers whose files `resources` writes (devices need none: eBPF). */
export function neededControllers(resources: Resources): Set<string> {
  const out = new Set<string>();
  const { cpu, memory, blockIO: io } = resources;
  if (cpu !== undefined && (defined(cpu.shares, cpu.quota, cpu.period) || cpu.burst !== undefined || cpu.idle !== undefined)) {
    out.add('cpu');
  }
  if (cpu !== undefined && defined(cpu.cpus, cpu.mems)) out.add('cpuset');
  if (memory !== undefined && defined(memory.limit, memory.reservation, memory.swap)) out.add('memory');
  if (resources.pids?.limit !== undefined) out.add('pids');
  if (io !== undefined) {
    const devices = [io.weightDevice, io.throttleReadBpsDevice, io.throttleWriteBpsDevice, io.throttleReadIOPSDevice, io.throttleWriteIOPSDevice];
    if (defined(io.weight) || devices.some((d) => d !== undefined && d.length > 0)) out.add('io');
  }
  if ((resources.hugepageLimits ?? []).length > 0) out.add('hugetlb');
  for (const key of Object.keys(resources.unified ?? {})) {
    const controller = unifiedKeyController(key);
    if (controller !== undefined) out.add(controller);
  }
  return out;
}

/** One ancestor as read from the kernel. */
export interface AncestorControllers {
  readonly path: string;
  /** cgroup.controllers: what this cgroup may enable for its children. */
  readonly available: readonly string[];
  /** cgroup.subtree_control: what it already enables. */
  readonly enabled: readonly string[];
}

export interface SubtreeControlWrite {
  readonly path: string;
  readonly value: string;
}

/**
 * The `+controller` writes, top-down, that make `needed` available in the leaf.
 * `ancestors` runs from the mount root to the leaf's parent. Throws when the hierarchy root
 * lacks a controller (not compiled in, or bound to a v1 hierarchy on a hybrid host).
 */
export function planEnableControllers(ancestors: readonly AncestorControllers[], needed: ReadonlySet<string>): SubtreeControlWrite[] {
  const top = ancestors[0];
  if (top === undefined) return [];
  const missing = [...needed].filter((c) => !top.available.includes(c)).sort();
  if (missing.length > 0) {
    throw new KapselError('ERR_CGROUP_CONTROLLER_MISSING', `enable cgroup v2 controllers in \`${top.path}\`: ${missing.join(', ')} not available`, {
      hint: 'on a hybrid host these controllers are bound to v1 hierarchies; check cgroup.controllers',
    });
  }
  const writes: SubtreeControlWrite[] = [];
  for (const a of ancestors) {
    for (const c of [...needed].sort()) {
      if (!a.enabled.includes(c)) writes.push({ path: a.path, value: `+${c}` });
    }
  }
  return writes;
}

/** `cpu io memory` → ['cpu', 'io', 'memory']. */
export function parseControllerList(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter((c) => c !== '');
}
