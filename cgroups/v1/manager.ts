/**
 * The cgroup v1 driver (Documentation/admin-guide/cgroup-v1/cgroups.rst): one directory per
 * mounted hierarchy (cpu and cpuacct may share one, or not), plus name=systemd for process
 * tracking and, on a hybrid host, the cgroup2 directory so the process is fully placed.
 *
 * On hybrid hosts the cgroup2 side also carries what v1 lacks: hugetlb limits when hugetlb is
 * bound to v2, `unified` keys, and freezing when there is no v1 freezer.
 */

import { KapselError } from '../../common/errors.js';
import { CgroupDir } from '../cgroup-dir.js';
import type { CgroupFs } from '../cgroup-fs.js';
import type { CgroupStep } from '../cgroup-plan.js';
import { ancestorsBelow, mkdirBelow, pollUntil, readPidsRecursive, removeCgroupTree } from '../lifecycle.js';
import type { CgroupManager, CgroupMode } from '../manager.js';
import { ignoredResourceNotes } from '../notes.js';
import type { Resources } from '../../oci/runtime-spec.js';
import type { CgroupStats } from '../stats.js';
import { neededControllers } from '../v2/controllers.js';
import { planHugetlbV2, readHugetlbStatsV2 } from '../v2/hugetlb.js';
import { checkMemoryBeforeUpdate, enableControllers, V2Manager } from '../v2/manager.js';
import { planUnified } from '../v2/unified.js';
import { planBlkioV1, readBlkioStatsV1 } from './blkio.js';
import { planCpuV1, readCpuThrottlingV1 } from './cpu.js';
import { readCpuUsageV1 } from './cpuacct.js';
import { planCpusetInherit, planCpusetV1 } from './cpuset.js';
import { planDevicesV1 } from './devices.js';
import { FREEZER_STATE, parseFreezerState } from './freezer.js';
import { planHugetlbV1, readHugetlbStatsV1 } from './hugetlb.js';
import { planMemoryV1, readMemoryStatsV1, readMemoryUsageV1, readOomKillsV1 } from './memory.js';
import { planNetClsV1 } from './net-cls.js';
import { planNetPrioV1 } from './net-prio.js';
import { planPids, readPidsStats } from './pids.js';

/** One v1 hierarchy as the manager uses it. */
export interface V1HierarchyDir {
  /** `['cpu', 'cpuacct']`, `['memory']`, `['name=systemd']`. */
  readonly controllers: readonly string[];
  readonly mountPoint: string;
  /** The container's directory in this hierarchy. */
  readonly dir: string;
}

export interface V1ManagerOptions {
  readonly id: string;
  readonly hierarchies: readonly V1HierarchyDir[];
  /** The cgroup2 side of a hybrid host. */
  readonly unified?: { readonly mountPoint: string; readonly dir: string } | undefined;
  readonly fs: CgroupFs;
  readonly debug: (message: string) => void;
  readonly freezeTimeoutMs: number;
}

/** Controllers applied only when mounted (runc skips them silently too). */
const OPTIONAL_CONTROLLERS = new Set(['net_cls', 'net_prio']);

/** Where pids() reads: any hierarchy holds every process; prefer ones that always exist. */
const PIDS_PREFERENCE = ['pids', 'freezer', 'devices', 'memory', 'cpu', 'name=systemd'];

export class V1Manager implements CgroupManager {
  readonly mode: CgroupMode;
  private readonly unified: V2Manager | undefined;

  constructor(private readonly opts: V1ManagerOptions) {
    this.mode = opts.unified === undefined ? 'legacy' : 'hybrid';
    this.unified =
      opts.unified === undefined
        ? undefined
        : new V2Manager({ id: opts.id, ...opts.unified, fs: opts.fs, debug: opts.debug, freezeTimeoutMs: opts.freezeTimeoutMs });
  }

  /** The directory for a controller, or undefined when its hierarchy is not mounted. */
  dirFor(controller: string): CgroupDir | undefined {
    const h = this.opts.hierarchies.find((x) => x.controllers.includes(controller));
    return h === undefined ? undefined : new CgroupDir(h.dir, this.opts.fs);
  }

  /** Each distinct directory once (cpu,cpuacct share one when co-mounted). */
  private dirs(): string[] {
    const all = this.opts.hierarchies.map((h) => h.dir);
    if (this.opts.unified !== undefined) all.push(this.opts.unified.dir);
    return [...new Set(all)];
  }

  create(): void {
    for (const h of this.opts.hierarchies) {
      const created = mkdirBelow(this.opts.fs, h.mountPoint, h.dir);
      // every directory on the path, not only those this call made: a parent that a parallel
      // create has just made may still have empty cpus/mems, which would leave ours empty too
      // (joining it then fails with ENOSPC); only empty values are ever written
      if (h.controllers.includes('cpuset') && created.length > 0) this.inheritCpuset([...ancestorsBelow(h.mountPoint, h.dir).slice(1), h.dir]);
    }
    this.unified?.create();
  }

  /** Fills each directory's empty cpus/mems with its parent's, top-down. */
  private inheritCpuset(created: readonly string[]): void {
    for (const path of created) {
      const child = new CgroupDir(path, this.opts.fs);
      const parent = new CgroupDir(path.slice(0, path.lastIndexOf('/')), this.opts.fs);
      const values = (cg: CgroupDir) => ({ cpus: cg.readIfExists('cpuset.cpus') ?? '', mems: cg.readIfExists('cpuset.mems') ?? '' });
      child.run(planCpusetInherit(values(parent), values(child)));
    }
  }

  join(pid: number): void {
    for (const dir of this.dirs()) new CgroupDir(dir, this.opts.fs).writePid(pid);
  }

  apply(resources: Resources): void {
    for (const note of ignoredResourceNotes(resources, 1)) this.opts.debug(`cgroup ${this.opts.id}: ${note}`);
    const hugetlbOnV2 = this.dirFor('hugetlb') === undefined && this.unified !== undefined && (resources.hugepageLimits ?? []).length > 0;
    // Plan everything first: an invalid value fails before the first write.
    const plans: [string, CgroupStep[]][] = [
      ['devices', planDevicesV1(resources.devices)],
      ['memory', planMemoryV1(resources.memory)],
      ['cpu', planCpuV1(resources.cpu)],
      ['cpuset', planCpusetV1(resources.cpu)],
      ['pids', planPids(resources.pids)],
      ['blkio', planBlkioV1(resources.blockIO)],
      ['hugetlb', hugetlbOnV2 ? [] : planHugetlbV1(resources.hugepageLimits)],
      ['net_cls', planNetClsV1(resources.network)],
      ['net_prio', planNetPrioV1(resources.network)],
    ];
    const v2Steps = [...(hugetlbOnV2 ? planHugetlbV2(resources.hugepageLimits) : []), ...planUnified(resources.unified)];
    if (v2Steps.length > 0 && this.opts.unified === undefined) {
      throw new KapselError('ERR_CGROUP_RESOURCES', 'invalid resources: `unified` needs cgroup v2, and this host has only v1');
    }
    for (const [controller, steps] of plans) {
      if (steps.length === 0) continue;
      const cg = this.dirFor(controller);
      if (cg !== undefined) cg.run(steps);
      else if (OPTIONAL_CONTROLLERS.has(controller)) this.opts.debug(`cgroup ${this.opts.id}: ${controller} not mounted, settings ignored`);
      else throw new KapselError('ERR_CGROUP_CONTROLLER_MISSING', `apply ${controller} limits: no ${controller} cgroup hierarchy is mounted`);
    }
    if (v2Steps.length > 0 && this.opts.unified !== undefined) {
      const u = this.opts.unified;
      const needed = neededControllers({ hugepageLimits: hugetlbOnV2 ? resources.hugepageLimits ?? [] : [], unified: resources.unified ?? {} });
      enableControllers(this.opts.fs, u.mountPoint, u.dir, needed);
      new CgroupDir(u.dir, this.opts.fs).run(v2Steps);
    }
  }

  update(resources: Resources): void {
    const memory = this.dirFor('memory');
    if (memory !== undefined) checkMemoryBeforeUpdate(resources, () => readMemoryUsageV1(memory.reader()), memory.path);
    this.apply(resources);
  }

  stats(): CgroupStats {
    const cpuacct = this.dirFor('cpuacct');
    const cpu = this.dirFor('cpu');
    const memory = this.dirFor('memory');
    const pids = this.dirFor('pids');
    const blkio = this.dirFor('blkio');
    const hugetlb = this.hugetlbStats();
    const zeroThrottling = { periods: 0, throttledPeriods: 0, throttledTimeNs: 0 };
    return {
      ...(cpuacct !== undefined
        ? { cpu: { ...readCpuUsageV1(cpuacct.reader()), throttling: cpu === undefined ? zeroThrottling : readCpuThrottlingV1(cpu.reader()) } }
        : {}),
      ...(memory !== undefined ? { memory: readMemoryStatsV1(memory.reader()) } : {}),
      ...(pids !== undefined ? { pids: readPidsStats(pids.reader()) } : {}),
      ...(blkio !== undefined ? { blockIO: { devices: readBlkioStatsV1(blkio.reader()) } } : {}),
      ...(hugetlb !== undefined ? { hugetlb } : {}),
    };
  }

  private hugetlbStats(): CgroupStats['hugetlb'] {
    const v1 = this.dirFor('hugetlb');
    if (v1 !== undefined) return readHugetlbStatsV1(v1.reader(), v1.list().map((e) => e.name));
    if (this.opts.unified === undefined) return undefined;
    const u = new CgroupDir(this.opts.unified.dir, this.opts.fs);
    const stats = readHugetlbStatsV2(u.reader(), u.list().map((e) => e.name));
    return Object.keys(stats).length > 0 ? stats : undefined;
  }

  pids(): number[] {
    for (const controller of PIDS_PREFERENCE) {
      const cg = this.dirFor(controller);
      if (cg !== undefined) return readPidsRecursive(this.opts.fs, cg.path);
    }
    const first = this.dirs()[0];
    return first === undefined ? [] : readPidsRecursive(this.opts.fs, first);
  }

  async freeze(): Promise<void> {
    const freezer = this.dirFor('freezer');
    if (freezer === undefined) return this.v2Freezer('freeze').freeze();
    // Rewrite FROZEN on every poll: tasks forked while FREEZING can keep it from settling.
    const settled = await pollUntil(() => {
      freezer.write(FREEZER_STATE, 'FROZEN');
      return parseFreezerState(freezer.read(FREEZER_STATE)) === 'FROZEN';
    }, this.opts.freezeTimeoutMs);
    if (settled) return;
    freezer.write(FREEZER_STATE, 'THAWED');
    throw new KapselError('ERR_CGROUP_FREEZE', `freeze cgroup \`${freezer.path}\`: still FREEZING after ${this.opts.freezeTimeoutMs} ms`);
  }

  async thaw(): Promise<void> {
    const freezer = this.dirFor('freezer');
    if (freezer === undefined) return this.v2Freezer('thaw').thaw();
    const settled = await pollUntil(() => {
      freezer.write(FREEZER_STATE, 'THAWED');
      return parseFreezerState(freezer.read(FREEZER_STATE)) === 'THAWED';
    }, this.opts.freezeTimeoutMs);
    if (!settled) throw new KapselError('ERR_CGROUP_FREEZE', `thaw cgroup \`${freezer.path}\`: not THAWED after ${this.opts.freezeTimeoutMs} ms`);
  }

  frozen(): boolean {
    const freezer = this.dirFor('freezer');
    if (freezer === undefined) return this.unified?.frozen() ?? false;
    return parseFreezerState(freezer.read(FREEZER_STATE)) === 'FROZEN';
  }

  private v2Freezer(what: string): V2Manager {
    if (this.unified !== undefined) return this.unified;
    throw new KapselError('ERR_CGROUP_CONTROLLER_MISSING', `${what} cgroup of ${this.opts.id}: no freezer cgroup hierarchy is mounted`);
  }

  oomKillCount(): number {
    const memory = this.dirFor('memory');
    return memory === undefined ? 0 : readOomKillsV1(memory.reader());
  }

  async destroy(): Promise<void> {
    for (const dir of this.dirs()) await removeCgroupTree(this.opts.fs, dir);
  }

  paths(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const h of this.opts.hierarchies) for (const c of h.controllers) out[c] = h.dir;
    if (this.opts.unified !== undefined) out['unified'] = this.opts.unified.dir;
    return out;
  }
}
