/** `-p [IP:]HOST:CTR[/tcp|udp]` (docker run --publish), parsed (pure). */
import { UsageError } from '../common/errors.js';
import { parseIp } from './ipv4.js';
import type { PortMapping } from './types.js';

function port(text: string, spec: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new UsageError(`invalid port \`${text}\` in \`${spec}\``, { hint: 'publish as [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]' });
  return n;
}

export function parsePublish(spec: string): PortMapping {
  const [addr = '', proto = 'tcp', extra] = spec.split('/');
  if (extra !== undefined || (proto !== 'tcp' && proto !== 'udp')) throw new UsageError(`invalid protocol in \`${spec}\`: use tcp or udp`);
  const parts = addr.split(':');
  if (parts.length === 2) return { hostIp: '', hostPort: port(parts[0]!, spec), containerPort: port(parts[1]!, spec), protocol: proto };
  if (parts.length === 3) {
    const ip = parts[0]!;
    if (ip !== '') parseIp(ip);
    return { hostIp: ip, hostPort: port(parts[1]!, spec), containerPort: port(parts[2]!, spec), protocol: proto };
  }
  throw new UsageError(`invalid publish spec \`${spec}\``, { hint: 'publish as [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]' });
}

/** docker port's format: `80/tcp -> 0.0.0.0:8080`. */
export function formatPort(p: PortMapping): string {
  return `${p.containerPort}/${p.protocol} -> ${p.hostIp === '' ? '0.0.0.0' : p.hostIp}:${p.hostPort}`;
}
