/** Facts about the running kernel that plans need, read once per process. */
import { readFileSync } from 'node:fs';
import { CAPABILITIES } from '../sys/constants.js';

let cachedLastCap: number | undefined;

/** The highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap). */
export function lastCap(): number {
  if (cachedLastCap === undefined) {
    try {
      cachedLastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    } catch {
      cachedLastCap = CAPABILITIES.length - 1;
    }
  }
  return cachedLastCap;
}
