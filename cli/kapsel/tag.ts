/** `kapsel tag SOURCE TARGET`. */
import type { CommandModule } from 'yargs';
import { openImageStore } from './image-store.js';

export const tagCommand: CommandModule<object, { source: string; target: string }> = {
  command: 'tag <source> <target>',
  describe: 'give an image another name',
  builder: (y) => y.positional('source', { type: 'string', demandOption: true }).positional('target', { type: 'string', demandOption: true }) as never,
  handler: async (argv) => {
    const { tagImage } = await import('../../images/image-manage.js');
    await tagImage(await openImageStore(), argv.source, argv.target);
  },
};
