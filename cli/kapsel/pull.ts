/**
 * `kapsel pull [--platform P] [--insecure-registry H]... REF`: prints the resolved digest.
 * A failed pull exits 1 as docker's does (its CLI exits 1 for every error but a flag error,
 * which is 125: docker/cli cmd/docker/docker.go, cli/cobra.go FlagErrorFunc); kapsel's usage
 * errors (a missing REF, a bad flag value) stay 125.
 */
import type { CommandModule } from 'yargs';
import { progressRenderer, formatBytes } from './pull-progress.js';

const PULL_FAILED_STATUS = 1;

interface PullArgs {
  image: string;
  platform?: string;
  'insecure-registry'?: string | string[];
  quiet: boolean;
}

export const pullCommand: CommandModule<object, PullArgs> = {
  command: 'pull <image>',
  describe: 'pull an image from a registry into the local store',
  builder: (y) => y
    .positional('image', { type: 'string', demandOption: true })
    .option('platform', { type: 'string', describe: 'os/arch[/variant] to select from a multi-platform image (default linux/amd64)' })
    .option('insecure-registry', { type: 'string', describe: 'HOST[:PORT] that may use plain HTTP (repeatable; loopback always may)' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress output' }) as never,
  handler: async (argv) => {
    const [{ linuxSyscalls }, { ContentStore, DEFAULT_STORE_ROOT }, { pullImage }, { parsePlatform }, { findCredentials }, { checkInsecureRegistry }] = await Promise.all([
      import('../../sys/linux-syscalls.js'), import('../../images/store.js'), import('../../images/registry-pull.js'),
      import('../../images/platform.js'), import('../../images/auth-config.js'), import('../../images/registry-insecure.js'),
    ]);
    const insecure = ([] as string[]).concat(argv['insecure-registry'] ?? []).map(checkInsecureRegistry);
    const platform = argv.platform === undefined ? undefined : parsePlatform(argv.platform);
    const progress = argv.quiet ? undefined : progressRenderer(process.stderr);
    const abort = new AbortController();
    const onSignal = (): void => abort.abort(new Error('interrupted'));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let result;
    try {
      const store = await ContentStore.open({ root: process.env['KAPSEL_STORE'] ?? DEFAULT_STORE_ROOT, syscalls: linuxSyscalls() });
      result = await pullImage({
        store,
        reference: argv.image,
        ...(platform !== undefined && { platform }),
        insecureRegistries: insecure,
        credentials: (registry) => findCredentials(registry),
        signal: abort.signal,
        ...(progress !== undefined && { onProgress: progress }),
      });
    } catch (err) {
      throw Object.assign(err instanceof Error ? err : new Error(String(err)), { exitStatus: PULL_FAILED_STATUS });
    } finally {
      progress?.finish();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (!argv.quiet) {
      process.stderr.write(`downloaded ${result.downloaded} blob${result.downloaded === 1 ? '' : 's'} (${formatBytes(result.downloadedBytes)}), ${result.skipped} already present\n`);
    }
    process.stdout.write(`Digest: ${result.digest}\n`);
    if (result.manifest.digest !== result.digest) process.stdout.write(`Manifest: ${result.manifest.digest}\n`);
    process.stdout.write(`${result.name}\n`);
  },
};
