/**
 * Probing the host's cgroup layout (cgroups(7) "CGROUPS VERSION 1/2"; proc(5)
 * /proc/[pid]/mountinfo and /proc/[pid]/cgroup) and choosing a driver.
 *
 * - unified: a cgroup2 mount and no v1 controller hierarchy (/sys/fs/cgroup is cgroup2fs);
 * - hybrid: v1 controller hierarchies plus a cgroup2 mount (systemd's /sys/fs/cgroup/unified);
 * - legacy: v1 only.
 * Text inputs are injectable so tests run against fake hosts.
 */

import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { KapselError } from '../common/errors.js';
import { nodeCgroupFs, type CgroupFs } from './cgroup-fs.js';
import { cgroupDirIn, parseCgroupsPath } from './cgroup-path.js';
import type { CgroupManager, CgroupMode } from './manager.js';
import type { DeviceProgramLoader } from './v2/devices.js';
import { parseControllerList } from './v2/controllers.js';
import { V1Manager, type V1HierarchyDir } from './v1/manager.js';
import { V2Manager } from './v2/manager.js';

/** Controllers of v1 (kernel/cgroup/cgroup-v1.c, include/linux/cgroup_subsys.h). */
export const V1_CONTROLLERS: ReadonlySet<string> = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio',
  'blkio', 'perf_event', 'hugetlb', 'pids', 'rdma', 'misc', 'debug',
]);

export interface MountinfoEntry {
  /** The mount's root inside its filesystem (a sub-cgroup when mounted from a container). */
  readonly root: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly superOptions: readonly string[];
}

export interface V1Hierarchy {
  /** Controllers bound to it, e.g. ['cpu', 'cpuacct'] or ['name=systemd']. */
  readonly controllers: readonly string[];
  readonly mountPoint: string;
  readonly root: string;
}

export interface V2Mount {
  readonly mountPoint: string;
  readonly root: string;
  /** The root's cgroup.controllers: what this hierarchy can delegate. */
  readonly controllers: readonly string[];
}

export interface CgroupHost {
  readonly mode: CgroupMode;
  readonly v1: readonly V1Hierarchy[];
  readonly v2: V2Mount | undefined;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo: `id parent dev root mountpoint opts [optional…] - fstype source superopts`. */
export function parseMountinfo(text: string): MountinfoEntry[] {
  const out: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 4) continue;
    out.push({
      root: unescapeMountField(fields[3]!),
      mountPoint: unescapeMountField(fields[4]!),
      fsType: fields[dash + 1]!,
      superOptions: fields[dash + 3]!.split(','),
    });
  }
  return out;
}

/** /proc/self/cgroup: `hierarchy-id:controller-list:path`; v2 is `0::path` (key ''). */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const controllers = m[2]!;
    if (controllers === '') out.set('', m[3]!);
    else for (const c of controllers.split(',')) out.set(c, m[3]!);
  }
  return out;
}

export interface DetectOptions {
  /** /proc/self/mountinfo text; read from the kernel when omitted. */
  readonly mountinfo?: string | undefined;
  /** Prefix for every mount point (a fake cgroup root in tests). */
  readonly root?: string | undefined;
  readonly fs?: CgroupFs | undefined;
}

/** Reads the layout; throws ERR_CGROUP_NOT_MOUNTED when no cgroup filesystem is mounted. */
export function detectCgroupHost(opts: DetectOptions = {}): CgroupHost {
  const entries = parseMountinfo(opts.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8'));
  const fs = opts.fs ?? nodeCgroupFs;
  const v1: V1Hierarchy[] = [];
  let v2: V2Mount | undefined;
  for (const e of entries) {
    if (e.fsType === 'cgroup') {
      const controllers = e.superOptions.filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name='));
      const key = controllers.join(',');
      if (controllers.length > 0 && !v1.some((h) => h.controllers.join(',') === key)) {
        v1.push({ controllers, mountPoint: e.mountPoint, root: e.root });
      }
    } else if (e.fsType === 'cgroup2' && v2 === undefined) {
      const available = fs.read(posix.join(opts.root ?? '/', e.mountPoint, 'cgroup.controllers'));
      v2 = { mountPoint: e.mountPoint, root: e.root, controllers: parseControllerList(available) };
    }
  }
  const hasV1Controllers = v1.some((h) => h.controllers.some((c) => V1_CONTROLLERS.has(c)));
  if (!hasV1Controllers && v2 === undefined) {
    throw new KapselError('ERR_CGROUP_NOT_MOUNTED', 'detect cgroups: no cgroup filesystem is mounted', { hint: 'mount cgroup2 on /sys/fs/cgroup' });
  }
  const mode: CgroupMode = !hasV1Controllers ? 'unified' : v2 === undefined ? 'legacy' : 'hybrid';
  return { mode, v1: mode === 'unified' ? [] : v1, v2 };
}

export interface NewCgroupManagerOptions {
  readonly cgroupsPath: string;
  readonly id: string;
  /** Overrides the detected mode (e.g. 'unified' to drive the cgroup2 mount of a hybrid host). */
  readonly mode?: CgroupMode | undefined;
  /** Fake cgroup root for tests: prefixed to every mount point. */
  readonly root?: string | undefined;
  readonly mountinfo?: string | undefined;
  /** /proc/self/cgroup text, for relative cgroups paths. */
  readonly procSelfCgroup?: string | undefined;
  readonly fs?: CgroupFs | undefined;
  readonly debug?: ((message: string) => void) | undefined;
  /** The bpf(2) loader for v2 device rules (sys/). */
  readonly loadAndAttachDeviceProgram?: DeviceProgramLoader | undefined;
  readonly freezeTimeoutMs?: number | undefined;
}

/** v1 hierarchies a container joins: every real controller, plus name=systemd. */
function usedHierarchy(h: V1Hierarchy): boolean {
  return h.controllers.some((c) => V1_CONTROLLERS.has(c) || c === 'name=systemd');
}

export function newCgroupManager(opts: NewCgroupManagerOptions): CgroupManager {
  const path = parseCgroupsPath(opts.cgroupsPath);
  const fs = opts.fs ?? nodeCgroupFs;
  const host = detectCgroupHost({ mountinfo: opts.mountinfo, root: opts.root, fs });
  const mode = opts.mode ?? host.mode;
  const own = path.kind === 'relative' ? parseProcCgroup(opts.procSelfCgroup ?? readFileSync('/proc/self/cgroup', 'utf8')) : new Map<string, string>();
  const prefix = (p: string): string => (opts.root === undefined ? p : posix.join(opts.root, p));
  const common = {
    id: opts.id,
    fs,
    debug: opts.debug ?? (() => {}),
    freezeTimeoutMs: opts.freezeTimeoutMs ?? 5000,
  };
  const v2Dirs = (v2: V2Mount) => ({ mountPoint: prefix(v2.mountPoint), dir: prefix(cgroupDirIn(v2.mountPoint, v2.root, own.get(''), path)) });
  if (mode === 'unified') {
    if (host.v2 === undefined) throw modeError(mode, host.mode);
    return new V2Manager({ ...common, ...v2Dirs(host.v2), loadAndAttachDeviceProgram: opts.loadAndAttachDeviceProgram });
  }
  if (host.mode === 'unified' || (mode === 'hybrid' && host.v2 === undefined)) throw modeError(mode, host.mode);
  const hierarchies: V1HierarchyDir[] = host.v1.filter(usedHierarchy).map((h) => ({
    controllers: h.controllers,
    mountPoint: prefix(h.mountPoint),
    dir: prefix(cgroupDirIn(h.mountPoint, h.root, own.get(h.controllers[0]!), path)),
  }));
  const unified = mode === 'hybrid' && host.v2 !== undefined ? v2Dirs(host.v2) : undefined;
  return new V1Manager({ ...common, hierarchies, unified });
}

function modeError(wanted: CgroupMode, found: CgroupMode): KapselError {
  return new KapselError('ERR_CGROUP_MODE', `use cgroup mode ${wanted}: the host is ${found}`);
}
