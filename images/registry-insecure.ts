/**
 * Which registries may be reached over plain HTTP (or HTTPS without certificate checks).
 *
 * Like dockerd, kapsel treats loopback registries as insecure-allowed without being told
 * (`localhost`, `127.0.0.0/8`, `::1`): traffic that never leaves the machine gains nothing from
 * TLS, and a local test registry is the common case. Any other host needs
 * `--insecure-registry HOST[:PORT]`; an entry without a port allows every port of that host.
 * Pure.
 */

import { KapselError } from '../common/errors.js';

/** Splits `host:port`, `[v6]:port`, `host` into lowercase host and port ('' when none). */
function splitHostPort(text: string): { host: string; port: string } {
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::([0-9]+))?$/.exec(text);
  if (v6 !== null) return { host: (v6[1] ?? '').toLowerCase(), port: v6[2] ?? '' };
  const colon = text.lastIndexOf(':');
  if (colon >= 0) return { host: text.slice(0, colon).toLowerCase(), port: text.slice(colon + 1) };
  return { host: text.toLowerCase(), port: '' };
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.(?:\d{1,3})\.(?:\d{1,3})\.(?:\d{1,3})$/.test(host);
}

/** Checks an `--insecure-registry` value: `HOST[:PORT]`, no scheme or path. */
export function checkInsecureRegistry(entry: string): string {
  const { host, port } = splitHostPort(entry);
  if (host === '' || /[/\s]/.test(entry) || entry.includes('://') || (port !== '' && !/^[0-9]{1,5}$/.test(port))) {
    throw new KapselError('ERR_USAGE', `invalid --insecure-registry \`${entry}\`: must be HOST or HOST:PORT`);
  }
  return entry.toLowerCase();
}

/** True when `registry` (`host[:port]` of a reference) may use plain HTTP. */
export function isInsecureRegistry(registry: string, allowed: readonly string[]): boolean {
  const { host, port } = splitHostPort(registry);
  if (isLoopbackHost(host)) return true;
  return allowed.some((entry) => {
    const e = splitHostPort(entry);
    return e.host === host && (e.port === '' || e.port === port);
  });
}
