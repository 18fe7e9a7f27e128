/** `kapsel cp SRC CTR:DST` and `kapsel cp CTR:SRC DST`; `-` is a tar stream on stdin/stdout (docker cp). */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const cpCommand: CommandModule = {
  command: 'cp <src> <dst>',
  describe: 'copy files between a container and the host (CONTAINER:PATH on one side; - is a tar stream)',
  builder: (y) => y.positional('src', { type: 'string', demandOption: true }).positional('dst', { type: 'string', demandOption: true }),
  handler: async (argv) => {
    const ctx = await engine();
    const { copy } = await import('../../engine/copy.js');
    // yargs hands a lone `-` over as ''; no path is empty
    const arg = (k: string): string => (argv[k] === '' ? '-' : String(argv[k]));
    await copy(ctx, arg('src'), arg('dst'), { stdin: process.stdin, stdout: process.stdout });
  },
};
