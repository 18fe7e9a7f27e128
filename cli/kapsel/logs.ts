/** `kapsel logs [-f] [--tail N] [--since T] [-t] CONTAINER` */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const logsCommand: CommandModule = {
  command: 'logs <container>',
  describe: 'print a container\'s output',
  builder: (y) => y
    .positional('container', { type: 'string', demandOption: true })
    .option('follow', { alias: 'f', type: 'boolean', default: false })
    .option('tail', { alias: 'n', type: 'string', describe: 'number of lines from the end, or all' })
    .option('since', { type: 'string' })
    .option('timestamps', { alias: 't', type: 'boolean', default: false }),
  handler: async (argv) => {
    const ctx = await engine();
    const { streamLogs } = await import('../../engine/logs.js');
    const tail = argv['tail'] === undefined || argv['tail'] === 'all' ? undefined : Number(argv['tail']);
    const ts = argv['timestamps'] as boolean;
    await streamLogs(ctx, argv['container'] as string, { tail, since: argv['since'] as string | undefined, follow: argv['follow'] as boolean, timestamps: ts }, (l) => {
      (l.stream === 'stderr' ? process.stderr : process.stdout).write(ts ? `${l.time} ${l.log}` : l.log);
    });
  },
};
