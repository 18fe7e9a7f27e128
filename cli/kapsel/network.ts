/**
 * `kapsel network create|ls|inspect|rm|connect|disconnect|prune-stale`: argv in, the
 * network library (network/manager.ts) called, text out.
 */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../common/errors.js';

async function manager(): Promise<import('../../network/manager.js').NetworkManager> {
  const [{ linuxSyscalls }, { runNft }, { NetworkManager }] = await Promise.all([
    import('../../sys/linux-syscalls.js'),
    import('../../sys/libnftables.js'),
    import('../../network/manager.js'),
  ]);
  return new NetworkManager({ sys: linuxSyscalls(), nft: runNft, storeRoot: process.env['KAPSEL_STORE'] });
}

/** A kapsel container by name or id: its id, its init's network namespace and its hosts file. */
async function containerTarget(ref: string): Promise<{ id: string; netnsPath: string; hostsPath?: string; hostname: string }> {
  const [{ engine }, { existsSync }, { join }] = await Promise.all([import('./context.js'), import('node:fs'), import('node:path')]);
  const ctx = await engine();
  const rec = ctx.containers.read(ctx.containers.resolve(ref));
  if (rec.pid <= 0 || rec.state !== 'running') throw new UsageError(`container \`${rec.name}\` is not running`);
  const hosts = join(ctx.containers.dir(rec.id), 'hosts');
  return { id: rec.id, netnsPath: `/proc/${rec.pid}/ns/net`, hostname: rec.config.hostname, ...(existsSync(hosts) && { hostsPath: hosts }) };
}

const list = (v: unknown): string[] => (v === undefined ? [] : ([] as unknown[]).concat(v).map(String));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('')}\n`).join('');
}

export const networkCommand: CommandModule = {
  command: 'network <command>',
  describe: 'manage networks',
  builder: (y: Argv) =>
    y
      .command('create [options] <name>', 'create a bridge network', (c) => c
        .positional('name', { type: 'string', demandOption: true })
        .option('subnet', { type: 'string', describe: 'CIDR, e.g. 10.213.1.0/24 (default: a free private subnet)' })
        .option('gateway', { type: 'string', describe: 'the bridge address (default: the first host address)' })
        .option('internal', { type: 'boolean', default: false, describe: 'no outbound traffic, no published ports' })
        .option('bridge', { type: 'string', describe: 'bridge device name (at most 15 characters)' })
        .option('mtu', { type: 'number' }), async (a) => {
        const net = (await manager()).create({ name: a.name as string, subnet: a.subnet, gateway: a.gateway, internal: a.internal, bridge: a.bridge, mtu: a.mtu });
        process.stdout.write(`${net.id}\n`);
      })
      .command(['ls', 'list'], 'list networks', (c) => c.option('quiet', { alias: 'q', type: 'boolean', default: false }), async (a) => {
        const nets = (await manager()).list();
        if (a.quiet) process.stdout.write(nets.map((n) => `${n.name}\n`).join(''));
        else process.stdout.write(table([['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'GATEWAY', 'INTERNAL', 'CONTAINERS'], ...nets.map((n) => [n.id.slice(0, 12), n.name, 'bridge', n.subnet, n.gateway, String(n.internal), String(Object.keys(n.attachments).length)])]));
      })
      .command('inspect <names..>', 'show networks as JSON', (c) => c.positional('names', { type: 'string', array: true, demandOption: true }), async (a) => {
        const m = await manager();
        process.stdout.write(`${JSON.stringify(list(a.names).map((n) => m.inspect(n)), null, 2)}\n`);
      })
      .command(['rm <names..>', 'remove <names..>'], 'remove networks', (c) => c.positional('names', { type: 'string', array: true, demandOption: true }), async (a) => {
        const m = await manager();
        for (const n of list(a.names)) {
          m.remove(n);
          process.stdout.write(`${n}\n`);
        }
      })
      .command('connect [options] <network> <container>', 'connect a container to a network', (c) => c
        .positional('network', { type: 'string', demandOption: true })
        .positional('container', { type: 'string', demandOption: true })
        .option('ip', { type: 'string' })
        .option('alias', { type: 'string', describe: 'another name for the container on this network (repeatable)' })
        .option('publish', { alias: 'p', type: 'string', describe: '[IP:]HOST:CTR[/tcp|udp] (repeatable)' })
        .option('hostname', { type: 'string' })
        .option('netns', { type: 'string', describe: 'network namespace path, for a container kapsel does not know' })
        .option('hosts-file', { type: 'string', describe: "the file the container sees as /etc/hosts: kapsel keeps its peers' names in it" }), async (a) => {
        const { parsePublish } = await import('../../network/ports.js');
        const ports = list(a.publish).map(parsePublish);
        // --netns: any namespace, CTR is just a name for it; otherwise a kapsel container
        const target = a.netns !== undefined
          ? { id: a.container as string, netnsPath: a.netns, hostsPath: a['hosts-file'] }
          : await containerTarget(a.container as string);
        const hostname = a.hostname ?? ('hostname' in target ? target.hostname : undefined);
        const r = (await manager()).attach({
          network: a.network as string, containerId: target.id, netnsPath: target.netnsPath, ip: a.ip, ports, aliases: list(a.alias),
          ...(hostname !== undefined && { hostname }),
          hostsPath: a['hosts-file'] ?? target.hostsPath,
        });
        process.stdout.write(`${JSON.stringify(r)}\n`);
      })
      .command('disconnect <network> <container>', 'disconnect a container from a network', (c) => c
        .positional('network', { type: 'string', demandOption: true })
        .positional('container', { type: 'string', demandOption: true }), async (a) => {
        // a kapsel container by name or id prefix; otherwise the name given to --netns at connect
        let id = a.container as string;
        try {
          const { engine } = await import('./context.js');
          const ctx = await engine();
          id = ctx.containers.resolve(id);
        } catch {
          // not a kapsel container
        }
        (await manager()).detach(id, a.network as string);
      })
      .command('prune-stale', 'remove attachments of containers that are gone', (c) => c, async () => {
        for (const g of (await manager()).cleanStale()) process.stdout.write(`${g}\n`);
      })
      .demandCommand(1, 'name a network command: create, ls, inspect, rm, connect, disconnect'),
  handler: () => undefined,
};
