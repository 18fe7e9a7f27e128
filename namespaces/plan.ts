/**
 * Which namespaces a container creates and which it joins (runtime-spec config-linux.md
 * "Namespaces"; namespaces(7)). Pure: turns linux.namespaces into clone flags, join paths and
 * the id-map file contents the parent writes (user_namespaces(7) "User and group ID mappings").
 */
import {
  CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME,
  CLONE_NEWUSER, CLONE_NEWUTS,
} from '../sys/constants.js';
import type { IdMapping, Namespace, NamespaceType, TimeOffset, TimeOffsetClock } from '../oci/runtime-spec.js';

export const NAMESPACE_FLAGS: Readonly<Record<NamespaceType, number>> = {
  user: CLONE_NEWUSER,
  mount: CLONE_NEWNS,
  pid: CLONE_NEWPID,
  network: CLONE_NEWNET,
  ipc: CLONE_NEWIPC,
  uts: CLONE_NEWUTS,
  cgroup: CLONE_NEWCGROUP,
  time: CLONE_NEWTIME,
};

/** The file name under /proc/<pid>/ns/ for each type. */
export const NAMESPACE_PROC_NAMES: Readonly<Record<NamespaceType, string>> = {
  user: 'user', mount: 'mnt', pid: 'pid', network: 'net', ipc: 'ipc', uts: 'uts', cgroup: 'cgroup', time: 'time',
};

export interface NamespaceJoin {
  readonly type: NamespaceType;
  readonly nstype: number;
  readonly path: string;
}

export interface NamespacePlan {
  /** Flags for unshare(2) in the stage: the namespaces created new. */
  readonly cloneFlags: number;
  /** Existing namespaces the stage joins with setns(2) before unsharing. */
  readonly joins: readonly NamespaceJoin[];
  /** The types the container has of its own or joined (created or joined). */
  readonly types: ReadonlySet<NamespaceType>;
  /** The stage stops after unshare so the parent can write id maps or time offsets. */
  readonly syncAfterUnshare: boolean;
  readonly uidMap: string | undefined;
  readonly gidMap: string | undefined;
  readonly timeOffsets: string | undefined;
}

export function formatIdMap(mappings: readonly IdMapping[]): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

export function formatTimeOffsets(offsets: Partial<Record<TimeOffsetClock, TimeOffset>>): string {
  return Object.entries(offsets)
    .map(([clock, o]) => `${clock} ${o?.secs ?? 0} ${o?.nanosecs ?? 0}\n`)
    .join('');
}

export function planNamespaces(
  namespaces: readonly Namespace[],
  uidMappings: readonly IdMapping[] = [],
  gidMappings: readonly IdMapping[] = [],
  timeOffsets: Partial<Record<TimeOffsetClock, TimeOffset>> = {},
): NamespacePlan {
  let cloneFlags = 0;
  const joins: NamespaceJoin[] = [];
  const types = new Set<NamespaceType>();
  for (const ns of namespaces) {
    types.add(ns.type);
    const nstype = NAMESPACE_FLAGS[ns.type];
    if (ns.path !== undefined && ns.path !== '') joins.push({ type: ns.type, nstype, path: ns.path });
    else cloneFlags |= nstype;
  }
  const newUser = (cloneFlags & CLONE_NEWUSER) !== 0;
  const newTime = (cloneFlags & CLONE_NEWTIME) !== 0;
  const offsets = newTime && Object.keys(timeOffsets).length > 0 ? formatTimeOffsets(timeOffsets) : undefined;
  return {
    cloneFlags,
    joins,
    types,
    syncAfterUnshare: newUser || offsets !== undefined,
    uidMap: newUser && uidMappings.length > 0 ? formatIdMap(uidMappings) : undefined,
    gidMap: newUser && gidMappings.length > 0 ? formatIdMap(gidMappings) : undefined,
    timeOffsets: offsets,
  };
}

/** Maps a container id to the host id through `mappings`; identity when there are none. */
export function toHostId(id: number, mappings: readonly IdMapping[]): number {
  if (mappings.length === 0) return id;
  for (const m of mappings) {
    if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  }
  return 65534; // the overflow id, as the kernel shows an unmapped id
}
