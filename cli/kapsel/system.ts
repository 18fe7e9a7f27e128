/** `kapsel system info [--format json]` (the `system` group). */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const systemCommand: CommandModule = {
  command: 'system <command>',
  describe: 'engine and host information',
  builder: (y) => y.command({
    command: 'info',
    describe: 'show engine and host information',
    builder: (yy) => yy.option('format', { type: 'string', choices: ['text', 'json'], default: 'text' }),
    handler: async (argv) => {
      const ctx = await engine();
      const { systemInfo } = await import('../../engine/system-info.js');
      const info = systemInfo(ctx);
      if (argv['format'] === 'json') process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      else for (const [k, v] of Object.entries(info)) process.stdout.write(`${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}\n`);
    },
  }).demandCommand(1),
  handler: () => undefined,
};
