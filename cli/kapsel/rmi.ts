/** `kapsel rmi [-f] IMAGE...` (also `kapsel image rm`). */
import type { CommandModule } from 'yargs';
import { openImageStore } from './image-store.js';

export interface RmiArgs {
  images: string[];
  force: boolean;
}

export async function runRmi(argv: RmiArgs): Promise<void> {
  const { removeImages } = await import('../../images/image-manage.js');
  const events = await removeImages(await openImageStore(), argv.images, { force: argv.force });
  for (const e of events) process.stdout.write('Untagged' in e ? `Untagged: ${e.Untagged}\n` : `Deleted: ${e.Deleted}\n`);
}

export const rmiBuilder = (y: import('yargs').Argv): import('yargs').Argv<RmiArgs> => y
  .positional('images', { type: 'string', array: true, demandOption: true })
  .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'also when a container uses it, or it has several names' }) as never;

export const rmiCommand: CommandModule<object, RmiArgs> = {
  command: 'rmi <images..>',
  describe: 'remove images',
  builder: rmiBuilder,
  handler: runRmi,
};
