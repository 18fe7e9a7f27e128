/** IPv4 addresses and CIDR subnets as numbers (pure). */
import { UsageError } from '../common/errors.js';

export interface Subnet {
  /** Network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefixLen: number;
}

export function parseIp(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  const parts = m === null ? [] : m.slice(1).map(Number);
  if (parts.length !== 4 || parts.some((p) => p > 255)) throw new UsageError(`invalid IPv4 address \`${text}\``);
  return (((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0);
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const mask = (len: number): number => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);

export function parseSubnet(text: string): Subnet {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  const len = m === null ? NaN : Number(m[2]);
  if (m === null || len > 30 || len < 8) throw new UsageError(`invalid subnet \`${text}\``, { hint: 'use CIDR notation between /8 and /30, e.g. 10.213.1.0/24' });
  const ip = parseIp(m[1]!);
  const base = (ip & mask(len)) >>> 0;
  if (base !== ip) throw new UsageError(`invalid subnet \`${text}\`: host bits set (did you mean ${formatIp(base)}/${len}?)`);
  return { base, prefixLen: len };
}

export function formatSubnet(s: Subnet): string {
  return `${formatIp(s.base)}/${s.prefixLen}`;
}

export function contains(s: Subnet, ip: number): boolean {
  return ((ip & mask(s.prefixLen)) >>> 0) === s.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const len = Math.min(a.prefixLen, b.prefixLen);
  return ((a.base & mask(len)) >>> 0) === ((b.base & mask(len)) >>> 0);
}

export function broadcast(s: Subnet): number {
  return (s.base | ~mask(s.prefixLen)) >>> 0;
}

/** The usable host range: network and broadcast addresses excluded. */
export function hostRange(s: Subnet): { first: number; last: number } {
  return { first: s.base + 1, last: broadcast(s) - 1 };
}
