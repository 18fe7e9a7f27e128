/**
 * `kapsel inspect IMAGE...` for images: a JSON array of docker-like image documents
 * (images/image-manage.ts inspectImage). `runInspectImages` is exported so the container
 * `inspect` can fall back to it.
 */
import type { CommandModule } from 'yargs';
import { openImageStore } from './image-store.js';

/** One image's docker-like document (the container `inspect` falls back to it). */
export async function inspectImageDoc(ref: string): Promise<unknown> {
  const { inspectImage } = await import('../../images/image-manage.js');
  return inspectImage(await openImageStore(), ref);
}

export async function runInspectImages(refs: readonly string[]): Promise<void> {
  const { inspectImage } = await import('../../images/image-manage.js');
  const store = await openImageStore();
  const docs = [];
  for (const ref of refs) docs.push(await inspectImage(store, ref));
  process.stdout.write(`${JSON.stringify(docs, null, 4)}\n`);
}

export const inspectImageCommand: CommandModule<object, { images: string[] }> = {
  command: 'inspect <images..>',
  describe: 'show images as JSON',
  builder: (y) => y.positional('images', { type: 'string', array: true, demandOption: true }) as never,
  handler: (argv) => runInspectImages(argv.images),
};
