/** `kapsel save [-o FILE] [--format oci-archive|docker-archive] IMAGE...` (default: stdout, unless it is a terminal). */
import type { CommandModule } from 'yargs';
import { openImageStore } from './image-store.js';

export const saveCommand: CommandModule<object, { output: string | undefined; format: string; images: string[] }> = {
  command: 'save <images..>',
  describe: 'save images to a tar archive (OCI layout by default)',
  builder: (y) => y
    .positional('images', { type: 'string', array: true, demandOption: true })
    .option('output', { alias: 'o', type: 'string', describe: 'the tar file to write (default: stdout)' })
    .option('format', { type: 'string', choices: ['oci-archive', 'docker-archive'], default: 'oci-archive' }) as never,
  handler: async (argv) => {
    const [{ saveArchive }, { UsageError }] = await Promise.all([import('../../images/archive-save.js'), import('../../common/errors.js')]);
    const toStdout = argv.output === undefined || argv.output === '-';
    if (toStdout && process.stdout.isTTY) throw new UsageError('save: refusing to write a tar archive to a terminal', { hint: 'use -o FILE or redirect stdout' });
    await saveArchive(await openImageStore(), argv.images, toStdout ? process.stdout : (argv.output as string), { format: argv.format as 'oci-archive' | 'docker-archive' });
  },
};
