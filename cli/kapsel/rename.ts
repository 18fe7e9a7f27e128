/** `kapsel rename CONTAINER NEW_NAME` */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const renameCommand: CommandModule = {
  command: 'rename <container> <name>',
  describe: 'rename a container',
  builder: (y) => y.positional('container', { type: 'string', demandOption: true }).positional('name', { type: 'string', demandOption: true }),
  handler: async (argv) => {
    const ctx = await engine();
    ctx.containers.rename(ctx.containers.resolve(argv['container'] as string), argv['name'] as string);
  },
};
