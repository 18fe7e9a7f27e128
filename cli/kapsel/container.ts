/** `kapsel container prune` (the `container` group; other helpers may add to it). */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const containerCommand: CommandModule = {
  command: 'container <command>',
  describe: 'manage containers (prune)',
  builder: (y) => y.command({
    command: 'prune',
    describe: 'remove all stopped containers',
    builder: (yy) => yy.option('force', { alias: 'f', type: 'boolean', default: false, describe: 'accepted (kapsel does not prompt)' }),
    handler: async () => {
      const ctx = await engine();
      const { pruneContainers } = await import('../../engine/lifecycle.js');
      const removed = await pruneContainers(ctx);
      if (removed.length > 0) process.stdout.write(`Deleted Containers:\n${removed.map((id) => `${id}\n`).join('')}`);
      process.stdout.write(`\nTotal: ${removed.length} containers removed\n`);
    },
  }).demandCommand(1),
  handler: () => undefined,
};
