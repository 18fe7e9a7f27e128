/**
 * v2 `io` controller (Documentation/admin-guide/cgroup-v2.rst "IO").
 *
 * Weights: BFQ's io.bfq.weight takes the v1 value (1..1000) as is; otherwise io.weight (the
 * iocost controller) takes it converted to 1..10000 (convert.ts), as runc fs2/io.go does.
 * Limits: io.max `<major>:<minor> rbps=<n>`; a rate of 0 (the v1 "remove") becomes `max`.
 */

import { checkInt, write, writeFirstExisting, type CgroupStep } from '../cgroup-plan.js';
import type { BlockIoResources, ThrottleDevice } from '../../oci/runtime-spec.js';
import { parseDeviceNumber, parseNestedKeyed, type BlockIODeviceStats, type CgroupFileReader } from '../stats.js';
import { BLKIO_WEIGHT_MAX, BLKIO_WEIGHT_MIN } from '../v1/blkio.js';
import { blkioWeightToIoWeight } from './convert.js';

function device(major: number, minor: number): string {
  return `${checkInt('device major', major, 0)}:${checkInt('device minor', minor, 0)}`;
}

function ioMax(key: string, devices: readonly ThrottleDevice[] | undefined): CgroupStep[] {
  return (devices ?? []).map((d) => {
    const rate = checkInt('throttle rate', d.rate, 0);
    return write('io.max', `${device(d.major, d.minor)} ${key}=${rate === 0 ? 'max' : rate}`);
  });
}

function weightSteps(prefix: string, weight: number): CgroupStep {
  const w = checkInt('blkio weight', weight, BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX);
  return writeFirstExisting(write('io.bfq.weight', `${prefix}${w}`), write('io.weight', `${prefix}${blkioWeightToIoWeight(w)}`));
}

export function planIoV2(io: BlockIoResources | undefined): CgroupStep[] {
  if (io === undefined) return [];
  const steps: CgroupStep[] = [];
  if (io.weight !== undefined && io.weight !== 0) steps.push(weightSteps('', io.weight));
  for (const d of io.weightDevice ?? []) {
    if (d.weight !== undefined && d.weight !== 0) steps.push(weightSteps(`${device(d.major, d.minor)} `, d.weight));
  }
  steps.push(
    ...ioMax('rbps', io.throttleReadBpsDevice),
    ...ioMax('wbps', io.throttleWriteBpsDevice),
    ...ioMax('riops', io.throttleReadIOPSDevice),
    ...ioMax('wiops', io.throttleWriteIOPSDevice),
  );
  return steps;
}

export function readIoStatsV2(read: CgroupFileReader): BlockIODeviceStats[] {
  const out: BlockIODeviceStats[] = [];
  for (const [dev, values] of parseNestedKeyed(read('io.stat'))) {
    const num = parseDeviceNumber(dev);
    if (num === undefined) continue;
    out.push({
      major: num[0],
      minor: num[1],
      readBytes: values.get('rbytes') ?? 0,
      writeBytes: values.get('wbytes') ?? 0,
      readOps: values.get('rios') ?? 0,
      writeOps: values.get('wios') ?? 0,
    });
  }
  return out;
}
