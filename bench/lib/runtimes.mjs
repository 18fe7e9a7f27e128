/**
 * The OCI runtimes under comparison, and where each one can run on this host.
 *
 * crun 1.8 refuses a cgroup "hybrid" host whose cgroup2 mount offers any controller ("cgroups in
 * hybrid mode not supported, drop all controllers from cgroupv2"), and it checks that before
 * `--cgroup-manager=disabled` could matter. So crun's runner lives in a private mount namespace
 * that shows the cgroup v1 hierarchies only (runner-client.mjs): crun then sees a pure cgroup v1
 * host and manages v1 cgroups through cgroupfs, as runc does. The namespace is made once, when
 * the runner starts, so the samples carry no unshare(1) cost; the per-call cost such a wrapper
 * would add is measured and reported beside them.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const KAPSEL_RUNTIME = fileURLToPath(new URL('../../bin/kapsel-runtime', import.meta.url));
export const KAPSEL_CLI_JS = fileURLToPath(new URL('../../dist/cli/kapsel-runtime.js', import.meta.url));

/**
 * @typedef {{ name: string, short: string, bin: string, cliJs?: string, daemon?: boolean, docOnlyProbes?: string[][] }} RuntimeDef
 * `cliJs`: kapsel's entry point, which `bin` (native/front.c) runs with node.
 * `daemon`: measured with a `kapsel-runtime daemon` running (the session starts and stops it).
 * `docOnlyProbes`: extra global flags tried only to report whether they would have worked.
 */

/** @type {RuntimeDef[]} */
export const RUNTIMES = [
  { name: 'kapsel-runtime', short: 'kapsel', bin: KAPSEL_RUNTIME, cliJs: KAPSEL_CLI_JS },
  // the same binary with a `kapsel-runtime daemon` serving start/state/kill/delete (session.mjs)
  { name: 'kapsel-runtime+daemon', short: 'kapseld', bin: KAPSEL_RUNTIME, cliJs: KAPSEL_CLI_JS, daemon: true },
  { name: 'runc', short: 'runc', bin: '/usr/sbin/runc' },
  { name: 'crun', short: 'crun', bin: '/usr/bin/crun', docOnlyProbes: [['--cgroup-manager=disabled']] },
];

/** @param {string[]} [names] subset by name; all installed ones by default */
export function selectRuntimes(names) {
  const chosen = names && names.length > 0 ? RUNTIMES.filter((r) => names.includes(r.name) || names.includes(r.short)) : RUNTIMES;
  return chosen.filter((r) => existsSync(r.bin));
}
