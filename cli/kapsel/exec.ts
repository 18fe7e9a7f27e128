/** `kapsel exec [-i] [-t] [-d] [-e K=V] [-u USER] [-w DIR] CONTAINER COMMAND...` */
import type { CommandModule } from 'yargs';
import { engine, list } from './context.js';

export function execCommand(command: readonly string[]): CommandModule {
  return {
    command: 'exec [options] <container> [command..]',
    describe: 'run a command in a running container',
    builder: (y) => y
      .positional('container', { type: 'string', demandOption: true })
      .option('interactive', { alias: 'i', type: 'boolean', default: false })
      .option('tty', { alias: 't', type: 'boolean', default: false })
      .option('detach', { alias: 'd', type: 'boolean', default: false })
      .option('env', { alias: 'e', type: 'string' })
      .option('user', { alias: 'u', type: 'string' })
      .option('workdir', { alias: 'w', type: 'string' }),
    handler: async (argv) => {
      const ctx = await engine();
      const { execContainer } = await import('../../engine/exec.js');
      const tty = argv['tty'] as boolean;
      const raw = tty && (argv['interactive'] as boolean) && process.stdin.isTTY;
      if (raw) process.stdin.setRawMode(true);
      try {
        process.exitCode = await execContainer(ctx, argv['container'] as string, {
          args: command,
          interactive: argv['interactive'] as boolean,
          tty,
          detach: argv['detach'] as boolean,
          env: list(argv['env']),
          user: argv['user'] as string | undefined,
          workdir: argv['workdir'] as string | undefined,
          ...(tty && process.stdout.isTTY && process.stdout.rows > 0 && { consoleSize: { height: process.stdout.rows, width: process.stdout.columns } }),
        }, {
          stdin: process.stdin,
          stdout: process.stdout,
          onResize: (set) => {
            if (!process.stdout.isTTY) return;
            set(process.stdout.rows, process.stdout.columns);
            process.stdout.on('resize', () => set(process.stdout.rows, process.stdout.columns));
          },
        });
      } finally {
        if (raw) process.stdin.setRawMode(false);
        process.stdin.destroy();
      }
    },
  };
}
