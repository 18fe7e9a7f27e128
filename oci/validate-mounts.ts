/**
 * Validation of `mounts` (config.md "Mounts", "POSIX-platform Mounts"). Rules beyond JSON types:
 * - destination is required and non-empty. On Linux a relative destination is deprecated but
 *   allowed (read as relative to `/`), so it is a warning, not a violation.
 * - uidMappings and gidMappings come together (config.md: each MUST be specified with the other).
 * - `idmap`/`ridmap` without mappings of its own needs the container's user namespace
 *   (config.md mount options table: otherwise an error MUST be returned).
 */

import { checkIdMappings, type DeclaredNamespaces } from './validate-linux.js';
import { childPath, isAbsolutePath, type Checker, type JsonObject } from './validate-context.js';

const IDMAP_OPTIONS: readonly string[] = ['idmap', 'ridmap'];

export function checkMounts(c: Checker, spec: JsonObject, path: string, namespaces: DeclaredNamespaces): void {
  c.eachObject(spec, 'mounts', path, (mount, at) => {
    const destination = c.reqString(mount, 'destination', at);
    if (destination === '') c.fail(childPath(at, 'destination'), 'must not be empty');
    else if (destination !== undefined && !isAbsolutePath(destination)) {
      c.warn(childPath(at, 'destination'), 'is relative; relative destinations are deprecated and read as relative to /');
    }
    c.optString(mount, 'type', at);
    c.optString(mount, 'source', at);
    const options = (c.optStringArray(mount, 'options', at) ?? []).map(([, option]) => option);

    const uids = checkIdMappings(c, mount, 'uidMappings', at);
    const gids = checkIdMappings(c, mount, 'gidMappings', at);
    if (uids !== gids) {
      const missing = uids ? 'gidMappings' : 'uidMappings';
      c.fail(childPath(at, missing), `is required together with ${uids ? 'uidMappings' : 'gidMappings'}`);
    }
    const idmapOption = options.find((option) => IDMAP_OPTIONS.includes(option));
    if (idmapOption !== undefined && !uids && !gids && !namespaces.has('user')) {
      c.fail(childPath(at, 'options'), `${idmapOption} needs uidMappings and gidMappings or a user namespace`);
    }
    if ((uids || gids) && idmapOption === undefined) {
      c.warn(childPath(at, 'options'), 'should contain idmap or ridmap when the mount has id mappings');
    }
  });
}
