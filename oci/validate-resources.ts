/**
 * Validation of `linux.resources` (config-linux.md "Control groups"). Rules beyond JSON types:
 * - devices: type a/c/b, access made of r, w, m (cgroup-v1 devices.txt).
 * - memory: swap (memory+swap) not below limit when both are positive (runc rejects it);
 *   swappiness 0..100 (runc's range).
 * - cpu: burst no larger than a positive quota (config-linux.md "CPU"); cpus/mems in list
 *   syntax (cpuset(7)); idle 0 or 1 (cgroup-v2.rst cpu.idle).
 * - blockIO.weightDevice and rdma entries set at least one limit (config-linux.md).
 * - hugepageLimits pageSize `<n><K|M|G>B`; unified keys are cgroup file names (no `/`).
 */

import { parseCpuList } from './cpu-list.js';
import { childPath, type Checker, type JsonObject } from './validate-context.js';

const SWAPPINESS_MAX = 100;
const DEVICE_RULE_TYPES = ['a', 'c', 'b'] as const;

export function checkResources(c: Checker, linux: JsonObject, path: string): void {
  const res = c.optObject(linux, 'resources', path);
  if (res === undefined) return;
  const at = childPath(path, 'resources');
  checkDeviceRules(c, res, at);
  checkMemory(c, res, at);
  checkCpu(c, res, at);
  const pids = c.optObject(res, 'pids', at);
  if (pids !== undefined) c.reqInt(pids, 'limit', childPath(at, 'pids'), 'int64');
  checkBlockIo(c, res, at);
  c.eachObject(res, 'hugepageLimits', at, (limit, limitAt) => {
    const size = c.reqString(limit, 'pageSize', limitAt);
    if (size !== undefined && !/^[1-9][0-9]*[KMG]B$/.test(size)) {
      c.fail(childPath(limitAt, 'pageSize'), `must look like 2MB or 1GB (got ${JSON.stringify(size)})`);
    }
    c.reqInt(limit, 'limit', limitAt, 'uint64');
  });
  checkNetwork(c, res, at);
  checkRdma(c, res, at);
  for (const [file] of c.optStringMap(res, 'unified', at) ?? []) {
    if (file === '' || file.includes('/')) {
      c.fail(childPath(childPath(at, 'unified'), file), 'must be a cgroup file name such as memory.max');
    }
  }
}

function checkDeviceRules(c: Checker, res: JsonObject, path: string): void {
  c.eachObject(res, 'devices', path, (rule, at) => {
    c.optBool(rule, 'allow', at, true);
    c.optEnum(rule, 'type', at, DEVICE_RULE_TYPES);
    c.optInt(rule, 'major', at, 'int64');
    c.optInt(rule, 'minor', at, 'int64');
    const access = c.optString(rule, 'access', at);
    if (access !== undefined && !/^[rwm]*$/.test(access)) {
      c.fail(childPath(at, 'access'), `must be made of r, w and m (got ${JSON.stringify(access)})`);
    }
  });
}

function checkMemory(c: Checker, res: JsonObject, path: string): void {
  const mem = c.optObject(res, 'memory', path);
  if (mem === undefined) return;
  const at = childPath(path, 'memory');
  const limit = c.optInt(mem, 'limit', at, 'int64');
  c.optInt(mem, 'reservation', at, 'int64');
  const swap = c.optInt(mem, 'swap', at, 'int64');
  c.optInt(mem, 'kernel', at, 'int64');
  c.optInt(mem, 'kernelTCP', at, 'int64');
  const swappiness = c.optInt(mem, 'swappiness', at, 'uint64');
  if (swappiness !== undefined && swappiness > SWAPPINESS_MAX) {
    c.fail(childPath(at, 'swappiness'), `must be from 0 to ${SWAPPINESS_MAX} (got ${swappiness})`);
  }
  if (limit !== undefined && swap !== undefined && limit > 0 && swap > 0 && swap < limit) {
    c.fail(childPath(at, 'swap'), `is memory plus swap and must not be below limit (${swap} < ${limit})`);
  }
  c.optBool(mem, 'disableOOMKiller', at);
  c.optBool(mem, 'useHierarchy', at);
  c.optBool(mem, 'checkBeforeUpdate', at);
}

function checkCpu(c: Checker, res: JsonObject, path: string): void {
  const cpu = c.optObject(res, 'cpu', path);
  if (cpu === undefined) return;
  const at = childPath(path, 'cpu');
  c.optInt(cpu, 'shares', at, 'uint64');
  const quota = c.optInt(cpu, 'quota', at, 'int64');
  const burst = c.optInt(cpu, 'burst', at, 'uint64');
  c.optInt(cpu, 'period', at, 'uint64');
  c.optInt(cpu, 'realtimeRuntime', at, 'int64');
  c.optInt(cpu, 'realtimePeriod', at, 'uint64');
  if (quota !== undefined && burst !== undefined && quota > 0 && burst > quota) {
    c.fail(childPath(at, 'burst'), `must not exceed quota (${burst} > ${quota})`);
  }
  for (const key of ['cpus', 'mems']) {
    const list = c.optString(cpu, key, at);
    if (list !== undefined && list !== '' && parseCpuList(list) === undefined) {
      c.fail(childPath(at, key), `must be a list such as 0-3,7 (got ${JSON.stringify(list)})`);
    }
  }
  const idle = c.optInt(cpu, 'idle', at, 'int64');
  if (idle !== undefined && idle !== 0 && idle !== 1) c.fail(childPath(at, 'idle'), `must be 0 or 1 (got ${idle})`);
}

function checkBlockIo(c: Checker, res: JsonObject, path: string): void {
  const bio = c.optObject(res, 'blockIO', path);
  if (bio === undefined) return;
  const at = childPath(path, 'blockIO');
  c.optInt(bio, 'weight', at, 'uint16');
  c.optInt(bio, 'leafWeight', at, 'uint16');
  c.eachObject(bio, 'weightDevice', at, (dev, devAt) => {
    c.reqInt(dev, 'major', devAt, 'int64');
    c.reqInt(dev, 'minor', devAt, 'int64');
    c.optInt(dev, 'weight', devAt, 'uint16');
    c.optInt(dev, 'leafWeight', devAt, 'uint16');
    if (dev['weight'] === undefined && dev['leafWeight'] === undefined) {
      c.fail(devAt, 'must set weight or leafWeight');
    }
  });
  for (const key of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice']) {
    c.eachObject(bio, key, at, (dev, devAt) => {
      c.reqInt(dev, 'major', devAt, 'int64');
      c.reqInt(dev, 'minor', devAt, 'int64');
      c.reqInt(dev, 'rate', devAt, 'uint64');
    });
  }
}

function checkNetwork(c: Checker, res: JsonObject, path: string): void {
  const net = c.optObject(res, 'network', path);
  if (net === undefined) return;
  const at = childPath(path, 'network');
  c.optInt(net, 'classID', at, 'uint32');
  c.eachObject(net, 'priorities', at, (prio, prioAt) => {
    c.reqString(prio, 'name', prioAt);
    c.reqInt(prio, 'priority', prioAt, 'uint32');
  });
}

function checkRdma(c: Checker, res: JsonObject, path: string): void {
  const rdma = c.optObject(res, 'rdma', path);
  if (rdma === undefined) return;
  const at = childPath(path, 'rdma');
  for (const [device, value] of Object.entries(rdma)) {
    const devAt = childPath(at, device);
    const limits = c.object(value, devAt);
    if (limits === undefined) continue;
    c.optInt(limits, 'hcaHandles', devAt, 'uint32');
    c.optInt(limits, 'hcaObjects', devAt, 'uint32');
    if (limits['hcaHandles'] === undefined && limits['hcaObjects'] === undefined) {
      c.fail(devAt, 'must set hcaHandles or hcaObjects');
    }
  }
}
