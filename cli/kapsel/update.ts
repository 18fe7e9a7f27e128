/** `kapsel update [--memory] [--memory-swap] [--cpus] [--cpu-shares] [--cpuset-cpus] [--pids-limit] CONTAINER...` (live) */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const updateCommand: CommandModule = {
  command: 'update <containers..>',
  describe: 'change the resource limits of running containers',
  builder: (y) => y
    .positional('containers', { type: 'string', array: true })
    .option('memory', { alias: 'm', type: 'string' })
    .option('memory-swap', { type: 'string' })
    .option('cpus', { type: 'string' })
    .option('cpu-shares', { alias: 'c', type: 'string' })
    .option('cpuset-cpus', { type: 'string' })
    .option('pids-limit', { type: 'string' }),
  handler: async (argv) => {
    const ctx = await engine();
    const { updateLimits } = await import('../../engine/resources.js');
    for (const c of argv['containers'] as string[]) {
      await updateLimits(ctx, c, {
        memory: argv['memory'] as string | undefined,
        memorySwap: argv['memory-swap'] as string | undefined,
        cpus: argv['cpus'] as string | undefined,
        cpuShares: argv['cpu-shares'] as string | undefined,
        cpusetCpus: argv['cpuset-cpus'] as string | undefined,
        pidsLimit: argv['pids-limit'] as string | undefined,
      });
      process.stdout.write(`${c}\n`);
    }
  },
};
