/**
 * Validation of an OCI runtime-spec config (config.md, config-linux.md, config-vm.md) that
 * reports every violation at once, each located by a JSON path (`$.process.args[0]`).
 *
 * Pure: no file system. Properties the spec does not define are ignored, as config.md requires
 * of runtimes. Things the spec allows but discourages (relative mount destinations, the
 * deprecated prestart hooks, a consoleSize without a terminal) are warnings, not violations.
 * Section rules live in validate-process.ts, validate-mounts.ts, validate-linux.ts,
 * validate-resources.ts and validate-seccomp.ts.
 */

import { KapselError, errorMessage } from '../common/errors.js';
import { locateJsonError } from './json-error.js';
import { HOOK_NAMES, OCI_VERSION, type Spec } from './runtime-spec.js';
import { checkLinux, declaredNamespaces, type DeclaredNamespaces } from './validate-linux.js';
import { checkMounts } from './validate-mounts.js';
import { checkEnv, checkProcess } from './validate-process.js';
import { Checker, childPath, type JsonObject, type Violation } from './validate-context.js';

export type { Violation } from './validate-context.js';

export interface ValidateOptions {
  /** Absolute bundle directory; a relative root.path is reported resolved against it. */
  bundleDir?: string;
  /** `process` is OPTIONAL in config.json but REQUIRED to create and start a container. */
  requireProcess?: boolean;
}

export interface SpecCheck {
  violations: Violation[];
  warnings: Violation[];
}

const ROOT = '$';
const HOST_NAME_MAX = 64; // sethostname(2)/setdomainname(2): EINVAL beyond __NEW_UTS_LEN
// SemVer 2.0.0: MAJOR.MINOR.PATCH, optional -prerelease and +build of dot-separated identifiers.
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Every violation in `value`, in document order of the sections; [] when it is valid. */
export function validateSpec(value: unknown, opts: ValidateOptions = {}): Violation[] {
  return checkSpec(value, opts).violations;
}

/** Violations plus warnings about allowed but deprecated or ignored settings. */
export function checkSpec(value: unknown, opts: ValidateOptions = {}): SpecCheck {
  const c = new Checker();
  const spec = c.object(value, ROOT);
  if (spec !== undefined) checkTopLevel(c, spec, opts);
  return { violations: c.violations, warnings: c.warnings };
}

function checkTopLevel(c: Checker, spec: JsonObject, opts: ValidateOptions): void {
  const namespaces = declaredNamespaces(spec);
  checkOciVersion(c, spec);
  checkRoot(c, spec, opts);
  if (opts.requireProcess === true && spec['process'] === undefined) {
    c.fail(childPath(ROOT, 'process'), 'is required to create a container');
  }
  checkProcess(c, spec, ROOT);
  checkUtsName(c, spec, 'hostname', namespaces);
  checkUtsName(c, spec, 'domainname', namespaces);
  checkMounts(c, spec, ROOT, namespaces);
  checkHooks(c, spec);
  checkAnnotations(c, spec);
  checkLinux(c, spec, ROOT, namespaces);
  checkVm(c, spec);
}

function checkOciVersion(c: Checker, spec: JsonObject): void {
  const version = c.reqString(spec, 'ociVersion', ROOT);
  if (version === undefined) return;
  const at = childPath(ROOT, 'ociVersion');
  const match = SEMVER.exec(version);
  if (match === null) {
    c.fail(at, `must be a SemVer 2.0.0 version such as ${OCI_VERSION} (got ${JSON.stringify(version)})`);
  } else if (match[1] !== '1') {
    c.fail(at, `must be a 1.x version; kapsel implements runtime-spec ${OCI_VERSION} (got ${version})`);
  } else if (Number(match[2]) > Number(OCI_VERSION.split('.')[1])) {
    c.warn(at, `is newer than runtime-spec ${OCI_VERSION}; settings kapsel does not know are ignored`);
  }
}

function checkRoot(c: Checker, spec: JsonObject, opts: ValidateOptions): void {
  // config.md: root is OPTIONAL only on Windows (Hyper-V); REQUIRED on every other platform.
  const root = c.reqObject(spec, 'root', ROOT);
  if (root === undefined) return;
  const at = childPath(ROOT, 'root');
  const rootPath = c.reqString(root, 'path', at);
  if (rootPath === '') {
    const where = opts.bundleDir === undefined ? '' : ` (bundle ${opts.bundleDir})`;
    c.fail(childPath(at, 'path'), `must name the root filesystem, conventionally rootfs${where}`);
  }
  c.optBool(root, 'readonly', at);
}

function checkUtsName(c: Checker, spec: JsonObject, key: 'hostname' | 'domainname', namespaces: DeclaredNamespaces): void {
  const name = c.optString(spec, key, ROOT);
  if (name === undefined || name === '') return;
  const at = childPath(ROOT, key);
  if (Buffer.byteLength(name) > HOST_NAME_MAX) c.fail(at, `must be at most ${HOST_NAME_MAX} bytes`);
  if (!namespaces.has('uts')) c.fail(at, 'requires a uts namespace in linux.namespaces');
}

function checkHooks(c: Checker, spec: JsonObject): void {
  const hooks = c.optObject(spec, 'hooks', ROOT);
  if (hooks === undefined) return;
  const at = childPath(ROOT, 'hooks');
  for (const name of HOOK_NAMES) {
    c.eachObject(hooks, name, at, (hook, hookAt) => {
      c.absPath(hook, 'path', hookAt, true);
      c.optStringArray(hook, 'args', hookAt);
      checkEnv(c, hook, 'env', hookAt);
      const timeout = c.optInt(hook, 'timeout', hookAt, 'int64');
      if (timeout !== undefined && timeout <= 0) c.fail(childPath(hookAt, 'timeout'), `must be greater than zero (got ${timeout})`);
    });
  }
  if (Array.isArray(hooks['prestart']) && hooks['prestart'].length > 0) {
    c.warn(childPath(at, 'prestart'), 'is deprecated; use createRuntime, createContainer or startContainer');
  }
}

function checkAnnotations(c: Checker, spec: JsonObject): void {
  const entries = c.optStringMap(spec, 'annotations', ROOT);
  for (const [key] of entries ?? []) {
    if (key === '') c.fail(childPath(childPath(ROOT, 'annotations'), key), 'keys must not be empty');
  }
}

function checkVm(c: Checker, spec: JsonObject): void {
  const vm = c.optObject(spec, 'vm', ROOT);
  if (vm === undefined) return;
  const at = childPath(ROOT, 'vm');
  const hypervisor = c.optObject(vm, 'hypervisor', at);
  if (hypervisor !== undefined) {
    c.absPath(hypervisor, 'path', childPath(at, 'hypervisor'), true);
    c.optStringArray(hypervisor, 'parameters', childPath(at, 'hypervisor'));
  }
  const kernel = c.reqObject(vm, 'kernel', at);
  if (kernel !== undefined) {
    c.absPath(kernel, 'path', childPath(at, 'kernel'), true);
    c.optStringArray(kernel, 'parameters', childPath(at, 'kernel'));
    c.absPath(kernel, 'initrd', childPath(at, 'kernel'), false);
  }
  const image = c.optObject(vm, 'image', at);
  if (image !== undefined) {
    c.absPath(image, 'path', childPath(at, 'image'), true);
    c.reqString(image, 'format', childPath(at, 'image'));
  }
}

/** One line per violation: `$.process.args: must be a non-empty array of strings`. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.path}: ${v.message}`).join('\n');
}

/** A config that parsed as JSON but breaks the spec; `violations` lists every problem. */
export class ConfigInvalidError extends KapselError {
  readonly violations: Violation[];

  constructor(source: string, violations: Violation[]) {
    const count = violations.length === 1 ? '1 violation' : `${violations.length} violations`;
    super('ERR_CONFIG_INVALID', `validate \`${source}\`: ${count}\n${formatViolations(violations)}`, {
      hint: 'fix the listed fields; paths are JSON paths from the top of config.json',
    });
    this.name = 'ConfigInvalidError';
    this.violations = violations;
  }
}

/**
 * Parses and validates config.json text. `source` names the file in errors. Throws
 * ERR_CONFIG_JSON (with line and column) for malformed JSON and ConfigInvalidError
 * (ERR_CONFIG_INVALID) listing every violation otherwise.
 */
export function parseSpec(json: string, source: string, opts: ValidateOptions = {}): Spec {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err: unknown) {
    const where = locateJsonError(json);
    const detail = where === undefined
      ? errorMessage(err)
      : `line ${where.line}, column ${where.column} (offset ${where.offset}): ${where.reason}`;
    throw new KapselError('ERR_CONFIG_JSON', `parse \`${source}\`: invalid JSON: ${detail}`, { cause: err });
  }
  const violations = validateSpec(value, opts);
  if (violations.length > 0) throw new ConfigInvalidError(source, violations);
  return value as Spec;
}
