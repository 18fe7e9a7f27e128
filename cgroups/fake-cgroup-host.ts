/**
 * Test support: fake cgroup hosts in a tmpdir. The mountinfo texts are the three layouts
 * kapsel meets; `kernelFiles` plays the kernel on mkdir by creating the interface files a new
 * cgroup gets in each hierarchy (with the kernel's initial values).
 */

import { makeFakeCgroupRoot, RecordingCgroupFs, removeFakeCgroupRoot, type RecordingOptions } from './recording-cgroup-fs.js';

/** This project's CI host: hybrid, cpu and cpuacct mounted separately. */
export const HYBRID_MOUNTINFO = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** A classic systemd v1 layout: co-mounted cpu,cpuacct and net_cls,net_prio, hugetlb. */
export const LEGACY_MOUNTINFO = `25 19 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,hugetlb
33 25 0:30 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,freezer
34 25 0:31 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,cpuset
35 25 0:32 / /sys/fs/cgroup/perf_event rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,perf_event
`;

/** A pure v2 host. */
export const UNIFIED_MOUNTINFO = `24 30 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

const COMMON = { 'cgroup.procs': '' };

/** Interface files of a new cgroup, by hierarchy directory name. */
const BY_HIERARCHY: Record<string, Record<string, string>> = {
  cpu: { 'cpu.shares': '1024\n', 'cpu.cfs_period_us': '100000\n', 'cpu.cfs_quota_us': '-1\n', 'cpu.cfs_burst_us': '0\n', 'cpu.idle': '0\n', 'cpu.stat': 'nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n' },
  cpuacct: { 'cpuacct.usage': '3000\n', 'cpuacct.usage_user': '2000\n', 'cpuacct.usage_sys': '1000\n', 'cpuacct.stat': 'user 1\nsystem 1\n' },
  cpuset: { 'cpuset.cpus': '\n', 'cpuset.mems': '\n' },
  memory: {
    'memory.limit_in_bytes': '9223372036854771712\n',
    'memory.memsw.limit_in_bytes': '9223372036854771712\n',
    'memory.soft_limit_in_bytes': '9223372036854771712\n',
    'memory.swappiness': '60\n',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    'memory.use_hierarchy': '1\n',
    'memory.usage_in_bytes': '8192\n',
    'memory.max_usage_in_bytes': '16384\n',
    'memory.memsw.usage_in_bytes': '12288\n',
    'memory.stat': 'cache 100\nrss 200\ntotal_cache 4096\n',
  },
  devices: { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' },
  freezer: { 'freezer.state': 'THAWED\n' },
  blkio: {
    'blkio.throttle.read_bps_device': '',
    'blkio.throttle.write_bps_device': '',
    'blkio.throttle.read_iops_device': '',
    'blkio.throttle.write_iops_device': '',
    'blkio.throttle.io_service_bytes_recursive': '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\nTotal 12288\n',
    'blkio.throttle.io_serviced_recursive': '8:0 Read 1\n8:0 Write 2\nTotal 3\n',
  },
  pids: { 'pids.max': 'max\n', 'pids.current': '1\n' },
  hugetlb: { 'hugetlb.2MB.limit_in_bytes': '9223372036854771712\n', 'hugetlb.2MB.usage_in_bytes': '0\n', 'hugetlb.2MB.max_usage_in_bytes': '0\n' },
  'net_cls,net_prio': { 'net_cls.classid': '0\n', 'net_prio.ifpriomap': '' },
  unified: { 'cgroup.controllers': '', 'cgroup.subtree_control': '', 'cgroup.max.depth': 'max\n', 'cgroup.max.descendants': 'max\n', 'cgroup.freeze': '0\n', 'cgroup.events': 'populated 0\nfrozen 0\n', 'cpu.stat': 'usage_usec 5\nuser_usec 3\nsystem_usec 2\n' },
};

/** For a pure v2 root at sys/fs/cgroup: every controller's files appear (as if delegated). */
const V2_FILES: Record<string, string> = {
  ...BY_HIERARCHY['unified'],
  'cpu.weight': '100\n', 'cpu.max': 'max 100000\n', 'cpu.max.burst': '0\n', 'cpu.idle': '0\n',
  'cpuset.cpus': '\n', 'cpuset.mems': '\n',
  'memory.max': 'max\n', 'memory.high': 'max\n', 'memory.low': '0\n', 'memory.swap.max': 'max\n', 'memory.current': '8192\n', 'memory.peak': '16384\n',
  'memory.swap.current': '0\n', 'memory.stat': 'anon 100\nfile 4096\n', 'memory.events': 'low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n',
  'pids.max': 'max\n', 'pids.current': '1\n',
  'io.weight': 'default 100\n', 'io.max': '', 'io.stat': '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
  'hugetlb.2MB.max': 'max\n', 'hugetlb.2MB.current': '0\n',
};

/** The files the kernel would create for a new cgroup at `rel` (relative to the fake root). */
export function kernelFiles(rel: string): Record<string, string> {
  const parts = rel.split('/');
  if (parts[0] !== 'sys' || parts[1] !== 'fs' || parts[2] !== 'cgroup') return {};
  const hierarchy = parts[3] ?? '';
  const v2Root = !(hierarchy in BY_HIERARCHY) && hierarchy !== 'systemd' && hierarchy !== 'cpu,cpuacct' && hierarchy !== 'perf_event';
  if (v2Root) return { ...COMMON, ...V2_FILES };
  if (hierarchy === 'cpu,cpuacct') return { ...COMMON, ...BY_HIERARCHY['cpu'], ...BY_HIERARCHY['cpuacct'] };
  if (hierarchy === 'unified') return { ...COMMON, ...BY_HIERARCHY['unified'], 'hugetlb.2MB.max': 'max\n', 'hugetlb.2MB.current': '0\n' };
  return { ...COMMON, ...(BY_HIERARCHY[hierarchy] ?? {}) };
}

export interface FakeHost {
  readonly root: string;
  readonly fs: RecordingCgroupFs;
  cleanup(): void;
}

/** A fake root with `files` pre-created (relative paths) and a recording, kernel-like fs. */
export function fakeHost(files: Record<string, string>, options: Omit<RecordingOptions, 'onMkdir'> = {}): FakeHost {
  const root = makeFakeCgroupRoot(files);
  const fs = new RecordingCgroupFs(root, { ...options, onMkdir: kernelFiles });
  return { root, fs, cleanup: () => removeFakeCgroupRoot(root) };
}
