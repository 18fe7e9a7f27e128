/** `kapsel save -o FILE [--format oci-archive|docker-archive] IMAGE...`. */
import type { CommandModule } from 'yargs';
import { openImageStore } from './image-store.js';

export const saveCommand: CommandModule<object, { output: string; format: string; images: string[] }> = {
  command: 'save <images..>',
  describe: 'save images to a tar archive (OCI layout by default)',
  builder: (y) => y
    .positional('images', { type: 'string', array: true, demandOption: true })
    .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the tar file to write' })
    .option('format', { type: 'string', choices: ['oci-archive', 'docker-archive'], default: 'oci-archive' }) as never,
  handler: async (argv) => {
    const { saveArchive } = await import('../../images/archive-save.js');
    await saveArchive(await openImageStore(), argv.images, argv.output, { format: argv.format as 'oci-archive' | 'docker-archive' });
  },
};
