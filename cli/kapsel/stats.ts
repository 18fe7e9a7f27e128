/** `kapsel stats [--no-stream] [--format table|json] [CONTAINER...]` */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

function bytes(n: number | null): string {
  if (n === null) return 'unlimited';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i === 0 ? 0 : 1)}${units[i]}`;
}

export const statsCommand: CommandModule = {
  command: 'stats [containers..]',
  describe: 'live resource usage of running containers',
  builder: (y) => y
    .positional('containers', { type: 'string', array: true })
    .option('stream', { type: 'boolean', default: true, describe: '--no-stream: one sample, then exit' })
    .option('format', { type: 'string', choices: ['table', 'json'], default: 'table' }),
  handler: async (argv) => {
    const ctx = await engine();
    const { sampleStats } = await import('../../engine/resources.js');
    const refs = (argv['containers'] as string[] | undefined) ?? [];
    for (;;) {
      const rows = await sampleStats(ctx, refs);
      if (argv['format'] === 'json') {
        for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
      } else {
        const table = [['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS'],
          ...rows.map((r) => [r.Id.slice(0, 12), r.Name, `${r.CPUPerc.toFixed(2)}%`, `${bytes(r.MemUsageBytes)} / ${bytes(r.MemLimitBytes)}`, r.MemPerc === null ? '--' : `${r.MemPerc.toFixed(2)}%`, String(r.Pids)])];
        const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
        if (argv['stream'] !== false && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        for (const row of table) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd()}\n`);
      }
      if (argv['stream'] === false || rows.length === 0) return;
    }
  },
};
