/** `kapsel image ls|rm|prune|inspect|tag|load|save`: docker's `image` management group. */
import type { CommandModule } from 'yargs';
import { imagesBuilder, runImages } from './images.js';
import { humanSize, openImageStore } from './image-store.js';
import { inspectImageCommand } from './inspect-image.js';
import { loadCommand } from './load.js';
import { rmiBuilder, runRmi } from './rmi.js';
import { saveCommand } from './save.js';
import { tagCommand } from './tag.js';

const pruneCommand: CommandModule<object, { grace: number }> = {
  command: 'prune',
  describe: 'delete blobs no image uses and layer snapshots no image or container uses',
  builder: (y) => y.option('grace', { type: 'number', default: 600, describe: 'keep unnamed blobs younger than this many seconds (a pull in progress)' }) as never,
  handler: async (argv) => {
    const { pruneImages } = await import('../../images/image-manage.js');
    const result = await pruneImages(await openImageStore(), { graceMs: argv.grace * 1000 });
    for (const d of result.blobs) process.stdout.write(`deleted: ${d}\n`);
    for (const s of result.snapshots) process.stdout.write(`deleted snapshot: ${s}\n`);
    process.stdout.write(`Total reclaimed space: ${humanSize(result.freedBytes)}\n`);
  },
};

export const imageCommand: CommandModule = {
  command: 'image <command>',
  describe: 'manage images (ls, rm, prune, inspect, tag, load, save)',
  builder: (y) => y
    .command({ command: 'ls', aliases: ['list'], describe: 'list images', builder: imagesBuilder, handler: runImages })
    .command({ command: 'rm <images..>', describe: 'remove images', builder: rmiBuilder, handler: runRmi })
    .command(pruneCommand)
    .command(inspectImageCommand)
    .command(tagCommand)
    .command(loadCommand)
    .command(saveCommand)
    .demandCommand(1) as never,
  handler: () => undefined,
};
