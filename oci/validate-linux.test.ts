import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultSpec } from './default-spec.js';
import { validateSpec } from './validate.js';

type Json = Record<string, unknown>;

function base(rootless = false): Json {
  return JSON.parse(JSON.stringify(defaultSpec({ rootless, hostUid: 1000, hostGid: 1000 }))) as Json;
}

/** Violation paths after replacing fields of `linux` (undefined deletes) in the default config. */
function checkLinux(fields: Json, rootless = false): string[] {
  const doc = base(rootless);
  const linux = doc['linux'] as Json;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) delete linux[key];
    else linux[key] = value;
  }
  return validateSpec(doc).map((v) => v.path);
}

const ALL_NS = ['pid', 'network', 'ipc', 'uts', 'mount', 'user', 'cgroup', 'time'].map((type) => ({ type }));
const MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];

describe('validateSpec: linux namespaces and id mappings', () => {
  it('rejects unknown, duplicated and relative-path namespaces', () => {
    const ns = [{ type: 'pid' }, { type: 'uts' }, { type: 'mount' }, { type: 'pid' }, { type: 'vm' }, { type: 'network', path: 'netns' }];
    assert.deepEqual(checkLinux({ namespaces: ns }), ['$.linux.namespaces[3].type', '$.linux.namespaces[4].type', '$.linux.namespaces[5].path']);
    assert.deepEqual(checkLinux({ namespaces: [{ path: '/proc/1/ns/pid' }, { type: 'uts' }, { type: 'mount' }] }), ['$.linux.namespaces[0].type']);
  });

  it('allows id mappings only with a user namespace, and needs them for a new one', () => {
    assert.deepEqual(checkLinux({ uidMappings: MAP, gidMappings: MAP }), ['$.linux.uidMappings', '$.linux.gidMappings']);
    assert.deepEqual(checkLinux({ uidMappings: undefined }, true), ['$.linux.uidMappings']);
    const joined = [{ type: 'user', path: '/proc/42/ns/user' }, { type: 'uts' }, { type: 'mount' }];
    assert.deepEqual(checkLinux({ namespaces: joined, uidMappings: undefined, gidMappings: undefined }, true), []);
  });

  it('checks each mapping range', () => {
    const bad = [
      { containerID: 0, hostID: 1000, size: 10 },
      { containerID: 5, hostID: 5000, size: 10 },
      { containerID: 100, hostID: 1005, size: 1 },
      { containerID: 200, hostID: 9000, size: 0 },
      { containerID: 4294967295, hostID: 1, size: 2 },
      { containerID: 300, hostID: -1, size: 1 },
    ];
    assert.deepEqual(checkLinux({ uidMappings: bad }, true), [
      '$.linux.uidMappings[1]', '$.linux.uidMappings[2]', '$.linux.uidMappings[3].size',
      '$.linux.uidMappings[4].size', '$.linux.uidMappings[5].hostID',
    ]);
  });

  it('checks timeOffsets clocks, values and the time namespace', () => {
    const offsets = { monotonic: { secs: -5, nanosecs: 10 }, boottime: { secs: 86400 } };
    assert.deepEqual(checkLinux({ namespaces: ALL_NS, uidMappings: MAP, gidMappings: MAP, timeOffsets: offsets }), []);
    assert.deepEqual(checkLinux({ timeOffsets: offsets }), ['$.linux.timeOffsets']);
    assert.deepEqual(checkLinux({ namespaces: ALL_NS, uidMappings: MAP, gidMappings: MAP, timeOffsets: { realtime: {}, boottime: { nanosecs: 1e9 } } }),
      ['$.linux.timeOffsets.realtime', '$.linux.timeOffsets.boottime.nanosecs']);
    const joinedTime = [...ALL_NS.filter((ns) => ns.type !== 'time'), { type: 'time', path: '/proc/1/ns/time' }];
    assert.deepEqual(checkLinux({ namespaces: joinedTime, uidMappings: MAP, gidMappings: MAP, timeOffsets: offsets }), ['$.linux.timeOffsets']);
  });
});

describe('validateSpec: linux devices, sysctl and paths', () => {
  it('checks device type, path and numbers', () => {
    const devices = [
      { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      { type: 'p', path: '/dev/fifo' },
      { type: 'c', path: '/dev/null' },
      { type: 'x', path: 'dev/zero', major: 1, minor: 5 },
    ];
    assert.deepEqual(checkLinux({ devices }), [
      '$.linux.devices[2].major', '$.linux.devices[2].minor', '$.linux.devices[3].type', '$.linux.devices[3].path',
    ]);
  });

  it('allows only sysctls scoped to a namespace the config unshares', () => {
    assert.deepEqual(checkLinux({ sysctl: { 'net.ipv4.ip_forward': '1', 'net/core/somaxconn': '1024', 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '10', 'kernel.domainname': 'x' } }), []);
    assert.deepEqual(checkLinux({ sysctl: { 'net.ipv4.ip_forward': '1' } }, true), ['$.linux.sysctl["net.ipv4.ip_forward"]']);
    assert.deepEqual(checkLinux({ namespaces: [{ type: 'uts' }, { type: 'mount' }], sysctl: { 'kernel.msgmax': '1', 'fs.mqueue.queues_max': '1' } }),
      ['$.linux.sysctl["kernel.msgmax"]', '$.linux.sysctl["fs.mqueue.queues_max"]']);
    assert.deepEqual(checkLinux({ sysctl: { 'vm.swappiness': '10' } }), ['$.linux.sysctl["vm.swappiness"]']);
    assert.deepEqual(checkLinux({ sysctl: { 'kernel.hostname': 'x' } }), ['$.linux.sysctl["kernel.hostname"]']);
    assert.deepEqual(checkLinux({ sysctl: { 'kernel.shmmax': 1 } }), ['$.linux.sysctl["kernel.shmmax"]']);
  });

  it('checks rootfsPropagation, masked and readonly paths, personality, intelRdt', () => {
    assert.deepEqual(checkLinux({ rootfsPropagation: 'rslave' }), []);
    assert.deepEqual(checkLinux({ rootfsPropagation: 'sideways' }), ['$.linux.rootfsPropagation']);
    assert.deepEqual(checkLinux({ maskedPaths: ['/proc/kcore', 'proc/keys'] }), ['$.linux.maskedPaths[1]']);
    assert.deepEqual(checkLinux({ namespaces: [{ type: 'pid' }, { type: 'uts' }] }), ['$.linux.maskedPaths', '$.linux.readonlyPaths']);
    assert.deepEqual(checkLinux({ personality: { domain: 'LINUX64' } }), ['$.linux.personality.domain']);
    assert.deepEqual(checkLinux({ intelRdt: { closID: '../x', memBwSchema: 'L3:0=ff' } }), ['$.linux.intelRdt.closID', '$.linux.intelRdt.memBwSchema']);
    assert.deepEqual(checkLinux({ cgroupsPath: 5 }), ['$.linux.cgroupsPath']);
  });
});

describe('validateSpec: linux.resources', () => {
  it('accepts a full set of valid resources', () => {
    const resources = {
      devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }],
      memory: { limit: 536870912, reservation: 1, swap: 1073741824, swappiness: 60, disableOOMKiller: false },
      cpu: { shares: 1024, quota: 100000, burst: 50000, period: 100000, cpus: '0-1', mems: '0', idle: 0 },
      pids: { limit: 100 },
      blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 600 }], throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
      network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
      rdma: { mlx5_1: { hcaHandles: 3 } },
      unified: { 'memory.high': '1G' },
    };
    assert.deepEqual(checkLinux({ resources }), []);
  });

  it('reports each bad resource setting', () => {
    const resources = {
      devices: [{ access: 'rwx' }],
      memory: { limit: 1000, swap: 500, swappiness: 101 },
      cpu: { quota: 1000, burst: 2000, cpus: '0-', idle: 2 },
      pids: {},
      blockIO: { weight: 70000, weightDevice: [{ major: 8, minor: 0 }], throttleWriteIOPSDevice: [{ major: 8, rate: 5 }] },
      hugepageLimits: [{ pageSize: '2M', limit: 1 }],
      network: { priorities: [{ name: 'eth0' }] },
      rdma: { mlx5_1: {} },
      unified: { 'memory/max': '1' },
    };
    assert.deepEqual(checkLinux({ resources }), [
      '$.linux.resources.devices[0].allow', '$.linux.resources.devices[0].access',
      '$.linux.resources.memory.swappiness', '$.linux.resources.memory.swap',
      '$.linux.resources.cpu.burst', '$.linux.resources.cpu.cpus', '$.linux.resources.cpu.idle',
      '$.linux.resources.pids.limit',
      '$.linux.resources.blockIO.weight', '$.linux.resources.blockIO.weightDevice[0]',
      '$.linux.resources.blockIO.throttleWriteIOPSDevice[0].minor',
      '$.linux.resources.hugepageLimits[0].pageSize',
      '$.linux.resources.network.priorities[0].priority',
      '$.linux.resources.rdma.mlx5_1',
      '$.linux.resources.unified["memory/max"]',
    ]);
  });
});

describe('validateSpec: linux.seccomp', () => {
  const rule = (extra: Json) => ({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', ...extra });

  it('accepts a typical profile', () => {
    const seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }] },
        { names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    };
    assert.deepEqual(checkLinux({ seccomp }), []);
  });

  it('checks the action, architecture and flag names', () => {
    assert.deepEqual(checkLinux({ seccomp: {} }), ['$.linux.seccomp.defaultAction']);
    assert.deepEqual(checkLinux({ seccomp: { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_Z80'], flags: ['SECCOMP_FILTER_FLAG_FAST'] } }),
      ['$.linux.seccomp.architectures[0]', '$.linux.seccomp.flags[0]']);
  });

  it('checks syscall rules', () => {
    const syscalls = [
      rule({ names: [] }),
      rule({ action: 'SCMP_ACT_PANIC' }),
      rule({ action: 'SCMP_ACT_ALLOW', errnoRet: 1 }),
      rule({ args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: -1, op: 'SCMP_CMP_ABOUT' }] }),
      rule({ names: ['open', ''] }),
    ];
    assert.deepEqual(checkLinux({ seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls } }), [
      '$.linux.seccomp.syscalls[0].names', '$.linux.seccomp.syscalls[1].action', '$.linux.seccomp.syscalls[2].errnoRet',
      '$.linux.seccomp.syscalls[3].args[0].index', '$.linux.seccomp.syscalls[3].args[1].value',
      '$.linux.seccomp.syscalls[3].args[1].op', '$.linux.seccomp.syscalls[4].names[1]',
    ]);
  });

  it('allows defaultErrnoRet only with an action that carries it', () => {
    assert.deepEqual(checkLinux({ seccomp: { defaultAction: 'SCMP_ACT_KILL_PROCESS', defaultErrnoRet: 1 } }), ['$.linux.seccomp.defaultErrnoRet']);
    assert.deepEqual(checkLinux({ seccomp: { defaultAction: 'SCMP_ACT_TRACE', defaultErrnoRet: 1 } }), []);
  });

  it('requires listenerPath for SCMP_ACT_NOTIFY and before listenerMetadata', () => {
    const notify = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [rule({ action: 'SCMP_ACT_NOTIFY' })] };
    assert.deepEqual(checkLinux({ seccomp: notify }), ['$.linux.seccomp.listenerPath']);
    assert.deepEqual(checkLinux({ seccomp: { ...notify, listenerPath: '/run/agent.sock', listenerMetadata: 'x' } }), []);
    assert.deepEqual(checkLinux({ seccomp: { defaultAction: 'SCMP_ACT_ALLOW', listenerMetadata: 'x' } }), ['$.linux.seccomp.listenerMetadata']);
    assert.deepEqual(checkLinux({ seccomp: { ...notify, listenerPath: `/${'s'.repeat(120)}` } }), ['$.linux.seccomp.listenerPath']);
  });
});
