/** `kapsel top CONTAINER [ps OPTIONS]` */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const topCommand: CommandModule = {
  command: 'top <container> [psargs..]',
  describe: 'the processes of a running container (ps -ef by default)',
  builder: (y) => y.positional('container', { type: 'string', demandOption: true }).positional('psargs', { type: 'string', array: true }).parserConfiguration({ 'unknown-options-as-args': true }),
  handler: async (argv) => {
    const ctx = await engine();
    const { topContainer } = await import('../../engine/resources.js');
    process.stdout.write(topContainer(ctx, argv['container'] as string, ((argv['psargs'] as string[] | undefined) ?? []).map(String)));
  },
};
