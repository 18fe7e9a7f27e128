/**
 * Is a host port already served by a process on the host? A DNAT rule would silently take that
 * port's traffic away from it, so publishing it is refused. proc(5) /proc/net/tcp, tcp6, udp,
 * udp6: `local_address` is HEXIP:HEXPORT, `st` 0A is LISTEN (TCP); any bound UDP socket counts.
 * Parsing is pure; reading the files is the caller's (they show the reader's network namespace).
 */

export interface Listener {
  readonly protocol: 'tcp' | 'udp';
  readonly port: number;
}

export function parseProcNet(text: string, protocol: 'tcp' | 'udp'): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    const state = f[3];
    if (local === undefined || state === undefined) continue;
    if (protocol === 'tcp' && state !== '0A') continue;
    const port = parseInt(local.split(':')[1] ?? '', 16);
    if (port > 0) out.push({ protocol, port });
  }
  return out;
}
