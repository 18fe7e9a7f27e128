/**
 * Our side of an attached container: raw mode and window size for -t, stdin for -i, and the
 * signals we receive forwarded to the container's init (without -t; with -t they are keys).
 */
import type { EngineContext } from '../../engine/context.js';
import type { AttachOptions } from '../../engine/lifecycle.js';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12 };

export function attachTerminal(ctx: EngineContext, tty: boolean, interactive: boolean): AttachOptions & { restore(): void } {
  const cleanups: (() => void)[] = [];
  const raw = tty && interactive && process.stdin.isTTY;
  return {
    stdin: interactive ? process.stdin : undefined,
    // process.stdout and stderr are streams made on first use (~1.5 ms): a container that prints
    // nothing does not make them; without -i process.stdin is never made
    stdout: { write: (chunk: Uint8Array | string) => process.stdout.write(chunk) } as NodeJS.WritableStream,
    stderr: { write: (chunk: Uint8Array | string) => process.stderr.write(chunk) } as NodeJS.WritableStream,
    onAttach: (a, id) => {
      if (raw) {
        process.stdin.setRawMode(true);
        cleanups.push(() => process.stdin.setRawMode(false));
      }
      if (tty && process.stdout.isTTY) {
        const resize = (): void => a.resize(process.stdout.rows, process.stdout.columns);
        resize();
        process.stdout.on('resize', resize);
        cleanups.push(() => process.stdout.off('resize', resize));
      }
      for (const name of FORWARDED) {
        const h = (): void => {
          void import('../../engine/lifecycle.js').then((m) => {
            try {
              m.signalContainer(ctx, id, NUMBERS[name] ?? 15);
            } catch {
              // already gone
            }
          });
        };
        process.on(name, h);
        cleanups.push(() => process.off(name, h));
      }
    },
    restore: () => {
      for (const c of cleanups) c();
      if (interactive) process.stdin.destroy();
    },
  };
}
