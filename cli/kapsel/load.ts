/** `kapsel load [-i FILE]`: an OCI layout (directory or tar) or a docker-archive tar (default: stdin) into the store. */
import type { CommandModule } from 'yargs';
import { openImageStore } from './image-store.js';

export const loadCommand: CommandModule<object, { input: string | undefined; quiet: boolean }> = {
  command: 'load',
  describe: 'load images from an OCI layout (dir or tar) or a docker-archive tar',
  builder: (y) => y
    .option('input', { alias: 'i', type: 'string', describe: 'archive file or OCI layout directory (default: a tar on stdin)' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false }),
  handler: async (argv) => {
    const [{ loadArchive }, { familiarReference, parseReference }] = await Promise.all([import('../../images/archive-load.js'), import('../../images/reference.js')]);
    const result = await loadArchive(await openImageStore(), argv.input === undefined || argv.input === '-' ? process.stdin : argv.input);
    if (argv.quiet) return;
    for (const image of result.images) {
      const shown = image.name.startsWith('sha256:') ? `Loaded image ID: ${image.name}` : `Loaded image: ${familiarReference(parseReference(image.name))}`;
      process.stdout.write(`${shown}\n`);
    }
  },
};
