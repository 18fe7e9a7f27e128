/** `kapsel run [options] IMAGE [COMMAND...]` (docker run). */
import type { CommandModule } from 'yargs';
import { engine, list } from './context.js';
import { attachTerminal } from './terminal.js';

export function runCommand(command: readonly string[]): CommandModule {
  return {
    command: 'run [options] <image> [command..]',
    describe: 'run a command in a new container',
    builder: (y) => y
      .positional('image', { type: 'string', demandOption: true })
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'run in the background, print the id' })
      .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: 'keep stdin open' })
      .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'allocate a pseudo-terminal' })
      .option('rm', { type: 'boolean', default: false, describe: 'remove the container when it exits' })
      .option('name', { type: 'string' })
      .option('env', { alias: 'e', type: 'string', describe: 'KEY=VALUE' })
      .option('env-file', { type: 'string' })
      .option('workdir', { alias: 'w', type: 'string' })
      .option('user', { alias: 'u', type: 'string' })
      .option('volume', { alias: 'v', type: 'string', describe: 'SRC:DST[:ro]' })
      .option('tmpfs', { type: 'string', describe: 'DST[:options]' })
      .option('hostname', { alias: 'h', type: 'string' })
      .option('memory', { alias: 'm', type: 'string' })
      .option('memory-swap', { type: 'string' })
      .option('cpus', { type: 'string' })
      .option('cpu-shares', { alias: 'c', type: 'number' })
      .option('cpuset-cpus', { type: 'string' })
      .option('pids-limit', { type: 'number' })
      .option('read-only', { type: 'boolean', default: false })
      .option('cap-add', { type: 'string' })
      .option('cap-drop', { type: 'string' })
      .option('security-opt', { type: 'string', describe: 'seccomp=FILE|unconfined, no-new-privileges' })
      .option('privileged', { type: 'boolean', default: false })
      .option('entrypoint', { type: 'string' })
      .option('init', { type: 'boolean', default: false })
      .option('stop-signal', { type: 'string' })
      .option('restart', { type: 'string', describe: 'no | on-failure[:N] | always | unless-stopped' })
      .option('network', { alias: 'net', type: 'string', describe: 'bridge (default: the kapsel0 network) | none | host | a network from `kapsel network create`' })
      .option('publish', { alias: 'p', type: 'string', describe: '[IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp] (repeatable; needs a bridge network)' })
      .option('ip', { type: 'string', describe: 'the address on the bridge network' })
      .option('isolation', { type: 'string', describe: 'container (default) or vm: run the container in a microVM' })
      .option('log-opt', { type: 'string', describe: 'max-size=SIZE, max-file=N (json-file log rotation)' }),
    handler: async (argv) => {
      const ctx = await engine();
      const { runContainer } = await import('../../engine/lifecycle.js');
      const flags = {
        image: argv['image'] as string,
        args: command,
        name: argv['name'] as string | undefined,
        detach: argv['detach'] as boolean,
        interactive: argv['interactive'] as boolean,
        tty: argv['tty'] as boolean,
        rm: argv['rm'] as boolean,
        env: list(argv['env']),
        envFile: list(argv['env-file']),
        workdir: argv['workdir'] as string | undefined,
        user: argv['user'] as string | undefined,
        volumes: list(argv['volume']),
        tmpfs: list(argv['tmpfs']),
        hostname: argv['hostname'] as string | undefined,
        memory: argv['memory'] as string | undefined,
        memorySwap: argv['memory-swap'] as string | undefined,
        cpus: argv['cpus'] as string | undefined,
        cpuShares: argv['cpu-shares'] as number | undefined,
        cpusetCpus: argv['cpuset-cpus'] as string | undefined,
        pidsLimit: argv['pids-limit'] as number | undefined,
        readOnly: argv['read-only'] as boolean,
        capAdd: list(argv['cap-add']),
        capDrop: list(argv['cap-drop']),
        securityOpt: list(argv['security-opt']),
        privileged: argv['privileged'] as boolean,
        entrypoint: argv['entrypoint'] as string | undefined,
        init: argv['init'] as boolean,
        stopSignal: argv['stop-signal'] as string | undefined,
        restart: argv['restart'] as string | undefined,
        network: argv['network'] as string | undefined,
        publish: list(argv['publish']),
        ip: argv['ip'] as string | undefined,
        isolation: argv['isolation'] as string | undefined,
        logOpts: list(argv['log-opt']),
      };
      if (flags.detach) {
        const r = await runContainer(ctx, flags);
        process.stdout.write(`${r.id}\n`);
        return;
      }
      const io = attachTerminal(ctx, flags.tty, flags.interactive);
      try {
        const r = await runContainer(ctx, flags, io);
        process.exitCode = r.status ?? 0;
      } finally {
        io.restore();
      }
    },
  };
}
