/** `kapsel rmi [-f] IMAGE...` (also `kapsel image rm`). */
import type { CommandModule } from 'yargs';
import { openImageStore } from './image-store.js';
import { engine } from './context.js';

export interface RmiArgs {
  images: string[];
  force: boolean;
}

export async function runRmi(argv: RmiArgs): Promise<void> {
  const [{ removeImages }, { containersUsingImage }, ctx] = await Promise.all([
    import('../../images/image-manage.js'), import('../../images/snapshots.js'), engine(),
  ]);
  const store = await openImageStore();
  // the containers using an image, by name (their directories are named by id)
  const inUse = async (id: string): Promise<string[]> => (await containersUsingImage(store.root, id)).map((cid) => {
    try {
      return ctx.containers.read(cid).name;
    } catch {
      return cid;
    }
  });
  const events = await removeImages(store, argv.images, { force: argv.force, inUse });
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
