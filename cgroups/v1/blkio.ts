/**
 * v1 `blkio` controller (Documentation/admin-guide/cgroup-v1/blkio-controller.rst).
 *
 * Weights need a proportional I/O scheduler: CFQ (blkio.weight, removed in 5.0) or BFQ
 * (blkio.bfq.weight); the first file present is used, as runc fs/blkio.go does. Throttle
 * limits (blk-throttle) work with any scheduler: one `<major>:<minor> <rate>` write per device.
 */

import { checkInt, write, writeFirstExisting, type CgroupStep } from '../cgroup-plan.js';
import type { BlockIoResources, ThrottleDevice } from '../../oci/runtime-spec.js';
import type { BlockIODeviceStats, CgroupFileReader } from '../stats.js';

/** runtime-spec's blockIO weight range, the v1 one (cfq-iosched.c CFQ_WEIGHT_LEGACY_MIN/MAX). */
export const BLKIO_WEIGHT_MIN = 10;
export const BLKIO_WEIGHT_MAX = 1000;

function weight(name: string, value: number): number {
  return checkInt(name, value, BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX);
}

function device(major: number, minor: number): string {
  return `${checkInt('device major', major, 0)}:${checkInt('device minor', minor, 0)}`;
}

function throttle(file: string, devices: readonly ThrottleDevice[] | undefined): CgroupStep[] {
  return (devices ?? []).map((d) => write(file, `${device(d.major, d.minor)} ${checkInt('throttle rate', d.rate, 0)}`));
}

export function planBlkioV1(io: BlockIoResources | undefined): CgroupStep[] {
  if (io === undefined) return [];
  const steps: CgroupStep[] = [];
  if (io.weight !== undefined && io.weight !== 0) {
    const w = weight('blkio weight', io.weight);
    steps.push(writeFirstExisting(write('blkio.weight', w), write('blkio.bfq.weight', w)));
  }
  if (io.leafWeight !== undefined && io.leafWeight !== 0) {
    steps.push(write('blkio.leaf_weight', weight('blkio leaf weight', io.leafWeight)));
  }
  for (const d of io.weightDevice ?? []) {
    const dev = device(d.major, d.minor);
    if (d.weight !== undefined && d.weight !== 0) {
      const value = `${dev} ${weight('blkio device weight', d.weight)}`;
      steps.push(writeFirstExisting(write('blkio.weight_device', value), write('blkio.bfq.weight_device', value)));
    }
    if (d.leafWeight !== undefined && d.leafWeight !== 0) {
      steps.push(write('blkio.leaf_weight_device', `${dev} ${weight('blkio device leaf weight', d.leafWeight)}`));
    }
  }
  steps.push(
    ...throttle('blkio.throttle.read_bps_device', io.throttleReadBpsDevice),
    ...throttle('blkio.throttle.write_bps_device', io.throttleWriteBpsDevice),
    ...throttle('blkio.throttle.read_iops_device', io.throttleReadIOPSDevice),
    ...throttle('blkio.throttle.write_iops_device', io.throttleWriteIOPSDevice),
  );
  return steps;
}

/** Parses `8:0 Read 4096` lines into per-device read/write totals. */
function parseRecursive(text: string | undefined): Map<string, { read: number; write: number }> {
  const out = new Map<string, { read: number; write: number }>();
  for (const line of (text ?? '').split('\n')) {
    const [dev, op, value] = line.trim().split(/\s+/);
    if (dev === undefined || op === undefined || value === undefined || !/^\d+:\d+$/.test(dev)) continue;
    const entry = out.get(dev) ?? { read: 0, write: 0 };
    if (op === 'Read') entry.read += Number(value);
    else if (op === 'Write') entry.write += Number(value);
    out.set(dev, entry);
  }
  return out;
}

/** The scheduler's stats when present (CFQ, then BFQ), else blk-throttle's, which see every bio. */
const STAT_PREFIXES = ['blkio.', 'blkio.bfq.', 'blkio.throttle.'];

export function readBlkioStatsV1(read: CgroupFileReader): BlockIODeviceStats[] {
  for (const prefix of STAT_PREFIXES) {
    const bytesText = read(`${prefix}io_service_bytes_recursive`);
    if (bytesText === undefined) continue;
    const bytes = parseRecursive(bytesText);
    const ops = parseRecursive(read(`${prefix}io_serviced_recursive`));
    const devices = new Set([...bytes.keys(), ...ops.keys()]);
    return [...devices].sort().map((dev) => {
      const [major, minor] = dev.split(':').map(Number);
      return {
        major: major ?? 0,
        minor: minor ?? 0,
        readBytes: bytes.get(dev)?.read ?? 0,
        writeBytes: bytes.get(dev)?.write ?? 0,
        readOps: ops.get(dev)?.read ?? 0,
        writeOps: ops.get(dev)?.write ?? 0,
      };
    });
  }
  return [];
}
