/**
 * The cgroup v2 driver (Documentation/admin-guide/cgroup-v2.rst): one directory below the
 * cgroup2 mount, controllers delegated down from the mount root on demand, devices through an
 * eBPF program, freezing with cgroup.freeze.
 */

import { KapselError } from '../../common/errors.js';
import { CgroupDir } from '../cgroup-dir.js';
import type { CgroupFs } from '../cgroup-fs.js';
import type { CgroupStep } from '../cgroup-plan.js';
import { ancestorsBelow, mkdirBelow, pollUntil, readPidsRecursive, removeCgroupTree } from '../lifecycle.js';
import type { CgroupManager } from '../manager.js';
import { ignoredResourceNotes } from '../notes.js';
import type { Resources } from '../../oci/runtime-spec.js';
import type { CgroupStats } from '../stats.js';
import { planPids, readPidsStats } from '../v1/pids.js';
import { neededControllers, parseControllerList, planEnableControllers } from './controllers.js';
import { planCpuV2, readCpuStatsV2 } from './cpu.js';
import { planCpusetV2 } from './cpuset.js';
import { applyDevicesV2, type DeviceProgramLoader } from './devices.js';
import { CGROUP_EVENTS, CGROUP_FREEZE, eventsFrozen } from './freezer.js';
import { planHugetlbV2, readHugetlbStatsV2 } from './hugetlb.js';
import { planIoV2, readIoStatsV2 } from './io.js';
import { planMemoryV2, readMemoryStatsV2, readMemoryUsageV2, readOomKillsV2 } from './memory.js';
import { planUnified } from './unified.js';

export interface V2ManagerOptions {
  readonly id: string;
  /** Where the cgroup2 filesystem is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified). */
  readonly mountPoint: string;
  /** The container's cgroup directory, inside mountPoint. */
  readonly dir: string;
  readonly fs: CgroupFs;
  readonly debug: (message: string) => void;
  readonly loadAndAttachDeviceProgram?: DeviceProgramLoader | undefined;
  readonly freezeTimeoutMs: number;
}

/**
 * Enables `needed` in cgroup.subtree_control of every ancestor of `dir`, from the mount root
 * down, one controller per write so a failure names it.
 */
export function enableControllers(fs: CgroupFs, mountPoint: string, dir: string, needed: ReadonlySet<string>): void {
  if (needed.size === 0) return;
  const ancestors = ancestorsBelow(mountPoint, dir).map((path) => {
    const cg = new CgroupDir(path, fs);
    return {
      path,
      available: parseControllerList(cg.readIfExists('cgroup.controllers')),
      enabled: parseControllerList(cg.readIfExists('cgroup.subtree_control')),
    };
  });
  for (const w of planEnableControllers(ancestors, needed)) new CgroupDir(w.path, fs).write('cgroup.subtree_control', w.value);
}

/** Refuses a new memory limit below current usage (runtime-spec memory.checkBeforeUpdate). */
export function checkMemoryBeforeUpdate(resources: Resources, usageBytes: () => number, dir: string): void {
  const limit = resources.memory?.limit;
  if (resources.memory?.checkBeforeUpdate !== true || limit === undefined || limit <= 0) return;
  const usage = usageBytes();
  if (usage > limit) {
    throw new KapselError('ERR_CGROUP_MEMORY_BELOW_USAGE', `update memory limit of \`${dir}\` to ${limit}: current usage ${usage} is higher`, {
      hint: 'raise the limit, or unset memory.checkBeforeUpdate',
    });
  }
}

export class V2Manager implements CgroupManager {
  readonly mode = 'unified' as const;
  private readonly cg: CgroupDir;

  constructor(private readonly opts: V2ManagerOptions) {
    this.cg = new CgroupDir(opts.dir, opts.fs);
  }

  create(): void {
    mkdirBelow(this.opts.fs, this.opts.mountPoint, this.opts.dir);
  }

  join(pid: number): void {
    this.cg.writePid(pid);
  }

  apply(resources: Resources): void {
    for (const note of ignoredResourceNotes(resources, 2)) this.opts.debug(`cgroup ${this.opts.id}: ${note}`);
    // Plan everything first: an invalid value fails before the first write.
    const steps: CgroupStep[] = [
      ...planPids(resources.pids),
      ...planMemoryV2(resources.memory),
      ...planIoV2(resources.blockIO),
      ...planCpuV2(resources.cpu),
      ...planCpusetV2(resources.cpu),
      ...planHugetlbV2(resources.hugepageLimits),
    ];
    const unified = planUnified(resources.unified);
    enableControllers(this.opts.fs, this.opts.mountPoint, this.opts.dir, neededControllers(resources));
    this.cg.run(steps);
    applyDevicesV2(this.opts.dir, resources.devices, this.opts.fs, this.opts.loadAndAttachDeviceProgram);
    // Last, so explicit unified values override the converted ones (runc does the same).
    this.cg.run(unified);
  }

  update(resources: Resources): void {
    checkMemoryBeforeUpdate(resources, () => readMemoryUsageV2(this.cg.reader()), this.opts.dir);
    this.apply(resources);
  }

  stats(): CgroupStats {
    const read = this.cg.reader();
    const files = this.cg.list().map((e) => e.name);
    const has = (name: string): boolean => files.includes(name);
    const hugetlb = readHugetlbStatsV2(read, files);
    return {
      cpu: readCpuStatsV2(read),
      ...(has('memory.current') ? { memory: readMemoryStatsV2(read) } : {}),
      ...(has('pids.current') ? { pids: readPidsStats(read) } : {}),
      ...(has('io.stat') ? { blockIO: { devices: readIoStatsV2(read) } } : {}),
      ...(Object.keys(hugetlb).length > 0 ? { hugetlb } : {}),
    };
  }

  pids(): number[] {
    return readPidsRecursive(this.opts.fs, this.opts.dir);
  }

  async freeze(): Promise<void> {
    this.cg.write(CGROUP_FREEZE, '1');
    if (await pollUntil(() => this.frozen(), this.opts.freezeTimeoutMs)) return;
    this.cg.write(CGROUP_FREEZE, '0');
    throw new KapselError('ERR_CGROUP_FREEZE', `freeze cgroup \`${this.opts.dir}\`: not frozen after ${this.opts.freezeTimeoutMs} ms`);
  }

  async thaw(): Promise<void> {
    this.cg.write(CGROUP_FREEZE, '0');
    if (await pollUntil(() => !this.frozen(), this.opts.freezeTimeoutMs)) return;
    throw new KapselError('ERR_CGROUP_FREEZE', `thaw cgroup \`${this.opts.dir}\`: still frozen after ${this.opts.freezeTimeoutMs} ms`);
  }

  frozen(): boolean {
    return eventsFrozen(this.cg.readIfExists(CGROUP_EVENTS));
  }

  oomKillCount(): number {
    return readOomKillsV2(this.cg.reader());
  }

  async destroy(): Promise<void> {
    await removeCgroupTree(this.opts.fs, this.opts.dir);
  }

  paths(): Record<string, string> {
    return { unified: this.opts.dir };
  }
}
