/**
 * Image config → runtime-spec config.json (image-spec conversion.md), on the base of
 * `defaultSpec()` (runc's `spec` document):
 *
 * - process.args: Entrypoint + Cmd (conversion.md "Verbatim Fields" note 2). An overriding
 *   entrypoint drops the image's Cmd, as `docker run --entrypoint` does; overriding args replace Cmd.
 * - process.env: the image's Env in order; PATH from the default spec only when the image sets
 *   none, HOME from the user's passwd line and TERM for a terminal only when absent (note 1:
 *   added entries never replace the image's); then the caller's overrides, by name.
 * - process.cwd: WorkingDir (relative ones are taken from `/`) or `/`.
 * - process.user: Config.User through the image's passwd/group (image-user.ts).
 * - annotations (conversion.md "Annotation Fields", "Config.ExposedPorts"): os, architecture,
 *   variant, os.version, os.features, author, created, stopSignal, exposedPorts as
 *   `org.opencontainers.image.*`; Volumes as `io.github.kapsel.image.volumes`; every label
 *   verbatim, winning over the implicit keys; then the caller's annotations.
 * - mounts: the default spec's, then one rbind per image volume the caller prepared
 *   (volumes.ts: a directory under the container, seeded from the image).
 *
 * Pure: the caller reads passwd/group from the unpacked rootfs (rootfs-files.ts).
 */

import { KapselError, UsageError } from '../common/errors.js';
import { defaultSpec } from '../oci/default-spec.js';
import type { Spec } from '../oci/runtime-spec.js';
import { resolveUser } from './image-user.js';
import type { ImageConfig } from './oci-types.js';
import type { GroupEntry, PasswdEntry } from './passwd.js';

export const ANNOTATION_VOLUMES = 'io.github.kapsel.image.volumes';

export interface BundleOptions {
  /** Names the image in errors (`docker.io/library/busybox:latest`). */
  readonly image: string;
  /** The image's /etc/passwd and /etc/group, parsed; undefined when the image has none. */
  readonly passwd?: readonly PasswdEntry[];
  readonly group?: readonly GroupEntry[];
  /** Replaces Config.Cmd (`kapsel run IMAGE args…`). */
  readonly args?: readonly string[];
  /** Replaces Config.Entrypoint and drops Config.Cmd unless `args` are given; [] clears it. */
  readonly entrypoint?: readonly string[];
  /** `KEY=VALUE` entries set over the image's. */
  readonly env?: readonly string[];
  /** Absolute; replaces Config.WorkingDir. */
  readonly workdir?: string;
  /** Replaces Config.User. */
  readonly user?: string;
  readonly terminal?: boolean;
  readonly rootless?: boolean;
  readonly hostname?: string;
  /** root.path (default `rootfs`) and whether it is mounted read-only (default false). */
  readonly rootfsPath?: string;
  readonly readonlyRootfs?: boolean;
  /** Added last, over everything the image says. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Anonymous volumes for Config.Volumes (volumes.ts prepareImageVolumes): bind-mounted read-write. */
  readonly volumes?: ReadonlyArray<{ readonly destination: string; readonly source: string }>;
}

/** The runtime-spec config for a container of the image. */
export function imageToSpec(config: ImageConfig, opts: BundleOptions): Spec {
  const base = defaultSpec(opts.rootless === true ? { rootless: true } : {});
  const c = config.config ?? {};
  const terminal = opts.terminal ?? false;
  const user = resolveUser(opts.user ?? c.User, opts.passwd, opts.group);
  const spec: Spec = {
    ...base,
    process: {
      ...(base.process as NonNullable<Spec['process']>),
      terminal,
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length > 0 && { additionalGids: [...user.additionalGids] }) },
      args: processArgs(config, opts),
      env: processEnv(c.Env ?? [], base.process?.env ?? [], user.home, terminal, opts.env ?? []),
      cwd: workingDir(c.WorkingDir, opts.workdir),
    },
    root: { path: opts.rootfsPath ?? 'rootfs', readonly: opts.readonlyRootfs ?? false },
    annotations: { ...imageAnnotations(config), ...opts.annotations },
  };
  if (opts.hostname !== undefined) spec.hostname = opts.hostname;
  if (opts.volumes !== undefined && opts.volumes.length > 0) {
    spec.mounts = [...(spec.mounts ?? []), ...opts.volumes.map((v) => ({ destination: v.destination, type: 'bind', source: v.source, options: ['rbind', 'rw'] }))];
  }
  return spec;
}

function processArgs(config: ImageConfig, opts: BundleOptions): string[] {
  const c = config.config ?? {};
  const entrypoint = opts.entrypoint ?? c.Entrypoint ?? [];
  const cmd = opts.args !== undefined && opts.args.length > 0 ? opts.args : opts.entrypoint !== undefined ? [] : c.Cmd ?? [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new KapselError('ERR_IMAGE_NO_COMMAND', `image \`${opts.image}\` has no command (no Entrypoint or Cmd)`, {
      hint: 'give a command after the image name',
    });
  }
  return args;
}

function envName(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

function setEnv(env: string[], entry: string): void {
  const name = envName(entry);
  const i = env.findIndex((e) => envName(e) === name);
  if (i >= 0) env[i] = entry;
  else env.push(entry);
}

function processEnv(imageEnv: readonly string[], defaults: readonly string[], home: string, terminal: boolean, overrides: readonly string[]): string[] {
  const env = [...imageEnv];
  const has = (name: string): boolean => env.some((e) => envName(e) === name) || overrides.some((e) => envName(e) === name);
  const defaultPath = defaults.find((e) => envName(e) === 'PATH');
  if (!has('PATH') && defaultPath !== undefined) env.unshift(defaultPath);
  if (!has('HOME')) env.push(`HOME=${home}`);
  if (terminal && !has('TERM')) env.push('TERM=xterm');
  for (const entry of overrides) {
    if (!entry.includes('=') || entry.startsWith('=')) throw new UsageError(`environment variable \`${entry}\`: must be NAME=VALUE`);
    setEnv(env, entry);
  }
  return env;
}

function workingDir(imageDir: string | undefined, override: string | undefined): string {
  if (override !== undefined) {
    if (!override.startsWith('/')) throw new UsageError(`working directory \`${override}\`: must be an absolute path`);
    return override;
  }
  if (imageDir === undefined || imageDir === '') return '/';
  return imageDir.startsWith('/') ? imageDir : `/${imageDir}`;
}

/** conversion.md annotation fields; labels win over the implicit keys. */
export function imageAnnotations(config: ImageConfig): Record<string, string> {
  const c = config.config ?? {};
  const out: Record<string, string> = {};
  const set = (key: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') out[`org.opencontainers.image.${key}`] = value;
  };
  set('os', config.os);
  set('architecture', config.architecture);
  set('variant', config.variant);
  set('os.version', config['os.version']);
  set('os.features', config['os.features']?.join(','));
  set('author', config.author);
  set('created', config.created);
  set('stopSignal', c.StopSignal);
  set('exposedPorts', c.ExposedPorts === undefined ? undefined : Object.keys(c.ExposedPorts).join(','));
  if (c.Volumes !== undefined && Object.keys(c.Volumes).length > 0) out[ANNOTATION_VOLUMES] = Object.keys(c.Volumes).join(',');
  for (const [key, value] of Object.entries(c.Labels ?? {})) out[key] = value;
  return out;
}
