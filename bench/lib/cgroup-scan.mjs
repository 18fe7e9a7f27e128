/**
 * Finds cgroup directories a benchmark may have left behind: names starting with the bench's
 * container-id prefix anywhere in the hierarchies (a few hundred directories on a bench host).
 * Without `cgroupsPath` the runtimes differ: crun uses `/<id>`, kapsel `/kapsel/<id>`, and runc
 * a path relative to its caller's own cgroup in each hierarchy, e.g.
 * `memory:/process_api/<hash>/<id>` when the caller sits there, deeper than `find -maxdepth 3`.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

function subdirs(dir) {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/** @param {(name: string) => boolean} match @returns {string[]} */
export function findCgroups(match, root = ROOT, depth = 12) {
  const found = [];
  let level = [root];
  for (let d = 0; d < depth; d++) {
    const next = [];
    for (const dir of level) {
      for (const sub of subdirs(dir)) {
        if (match(sub.slice(sub.lastIndexOf('/') + 1))) found.push(sub);
        next.push(sub);
      }
    }
    level = next;
  }
  return found;
}
