/** `kapsel ps [-a] [-q] [--format table|json]` */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const psCommand: CommandModule = {
  command: 'ps',
  describe: 'list containers',
  builder: (y) => y
    .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'also stopped containers' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'only ids' })
    .option('format', { type: 'string', choices: ['table', 'json'], default: 'table' }),
  handler: async (argv) => {
    const ctx = await engine();
    const { listContainers } = await import('../../engine/inspect.js');
    const rows = listContainers(ctx, argv['all'] as boolean);
    if (argv['quiet']) {
      for (const r of rows) process.stdout.write(`${r.Id.slice(0, 12)}\n`);
    } else if (argv['format'] === 'json') {
      for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
    } else {
      const table = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES'], ...rows.map((r) => [r.Id.slice(0, 12), r.Image, JSON.stringify(r.Command.slice(0, 20)), r.CreatedAt, r.Status, r.Names])];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      for (const row of table) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd()}\n`);
    }
  },
};
