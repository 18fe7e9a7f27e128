/** `kapsel images [--format table|json] [-q]` (also `kapsel image ls`). */
import type { CommandModule } from 'yargs';
import { ago, humanSize, openImageStore, renderTable } from './image-store.js';

export interface ImagesArgs {
  format: string;
  quiet: boolean;
}

export async function runImages(argv: ImagesArgs): Promise<void> {
  const { listImages } = await import('../../images/image-manage.js');
  const rows = await listImages(await openImageStore());
  if (argv.quiet) {
    process.stdout.write([...new Set(rows.map((r) => r.ID.slice(7, 19)))].map((id) => `${id}\n`).join(''));
    return;
  }
  if (argv.format === 'json') {
    process.stdout.write(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    return;
  }
  process.stdout.write(renderTable([
    ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
    ...rows.map((r) => [r.Repository, r.Tag, r.ID.slice(7, 19), ago(r.CreatedAt), humanSize(r.Size)]),
  ]));
}

export const imagesBuilder = (y: import('yargs').Argv): import('yargs').Argv<ImagesArgs> => y
  .option('format', { type: 'string', choices: ['table', 'json'], default: 'table' })
  .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'image IDs only' }) as never;

export const imagesCommand: CommandModule<object, ImagesArgs> = {
  command: 'images',
  describe: 'list images in the store',
  builder: imagesBuilder,
  handler: runImages,
};
