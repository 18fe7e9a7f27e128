/**
 * `kapsel inspect NAME...`: containers as docker shows them (a JSON array). Names that are not
 * containers go to `imageInspect` when one is registered (the image verbs plug in there).
 */
import type { CommandModule } from 'yargs';
import { NotFoundError } from '../../common/errors.js';
import { engine } from './context.js';

export type ImageInspector = (ref: string) => Promise<unknown>;
let imageInspect: ImageInspector | undefined;

/** The image verbs register their `inspect IMAGE` here. */
export function setImageInspector(fn: ImageInspector): void {
  imageInspect = fn;
}

export const inspectCommand: CommandModule = {
  command: 'inspect <names..>',
  describe: 'show low-level information on containers (JSON)',
  builder: (y) => y.positional('names', { type: 'string', array: true }).option('type', { type: 'string', choices: ['container', 'image'] }),
  handler: async (argv) => {
    const ctx = await engine();
    const { inspectContainer } = await import('../../engine/inspect.js');
    const out: unknown[] = [];
    for (const n of argv['names'] as string[]) {
      try {
        if (argv['type'] === 'image') throw new NotFoundError(`object \`${n}\``);
        out.push(inspectContainer(ctx, n));
      } catch (err) {
        if (!(err instanceof NotFoundError) || argv['type'] === 'container' || imageInspect === undefined) throw err;
        try {
          out.push(await imageInspect(n));
        } catch (imageErr) {
          // neither a container nor an image: say so about the container unless --type image
          if (argv['type'] !== 'image' && (imageErr as { code?: unknown }).code === 'ERR_IMAGE_NOT_FOUND') {
            throw new NotFoundError(`container or image \`${n}\``, { cause: imageErr });
          }
          throw imageErr;
        }
      }
    }
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  },
};
