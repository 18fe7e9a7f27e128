/** `kapsel run [options] IMAGE [COMMAND...]` (docker run). */
import type { CommandModule, Options } from 'yargs';
import { RUN_OPTIONS } from '../kapsel-args.js';
import { engine, list } from './context.js';
import { attachTerminal } from './terminal.js';

export function runCommand(command: readonly string[]): CommandModule {
  return {
    command: 'run [options] <image> [command..]',
    describe: 'run a command in a new container',
    builder: (y) => {
      let b = y.positional('image', { type: 'string', demandOption: true });
      for (const o of RUN_OPTIONS) {
        const opt: Options = { type: o.type, ...(o.alias !== undefined && { alias: o.alias }), ...(o.describe !== undefined && { describe: o.describe }), ...(o.type === 'boolean' && { default: false }) };
        b = b.option(o.name, opt);
      }
      return b;
    },
    handler: (argv) => runHandler(argv, command),
  };
}

/** The run itself, for yargs' argv and for cli/kapsel-args.ts' parseRunFast() alike. */
export async function runHandler(argv: Record<string, unknown>, command: readonly string[]): Promise<void> {
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
}
