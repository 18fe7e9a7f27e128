/**
 * Moves this Node thread into a container's namespaces and back (setns(2)). Node is
 * multithreaded: setns(CLONE_NEWNS) needs a private fs_struct first (unshare(CLONE_FS), done
 * once per process), and a user namespace cannot be entered at all — the parent is root in the
 * initial user namespace, which holds every capability over the container's namespaces anyway.
 * Other threads (libuv's pool) stay where they were; only synchronous calls made on this thread
 * between enter and leave see the container.
 */
import { CLONE_FS, O_CLOEXEC, O_DIRECTORY, O_PATH, O_RDONLY } from '../sys/constants.js';
import type { Syscalls } from '../sys/syscalls.js';
import { KapselError } from '../common/errors.js';
import { NAMESPACE_FLAGS, NAMESPACE_PROC_NAMES } from './plan.js';
import type { NamespaceType } from '../oci/runtime-spec.js';

let fsUnshared = false;

/**
 * Runs `fn` with this thread in the namespaces `types` of process `pid`, then returns to the
 * original ones (and the original working directory) even when `fn` throws.
 */
export function inNamespaces<T>(sys: Syscalls, pid: number, types: readonly NamespaceType[], fn: () => T): T {
  const wanted = types.filter((t) => t !== 'user' && t !== 'pid' && t !== 'time');
  if (wanted.length === 0) return fn();
  if (wanted.includes('mount') && !fsUnshared) {
    sys.unshare(CLONE_FS);
    fsUnshared = true;
  }
  const cwd = sys.open('.', O_PATH | O_DIRECTORY | O_CLOEXEC);
  const restore: { fd: number; type: NamespaceType }[] = [];
  const targets: { fd: number; type: NamespaceType }[] = [];
  try {
    for (const type of wanted) {
      const name = NAMESPACE_PROC_NAMES[type];
      restore.push({ fd: sys.open(`/proc/thread-self/ns/${name}`, O_RDONLY | O_CLOEXEC), type });
      targets.push({ fd: sys.open(`/proc/${pid}/ns/${name}`, O_RDONLY | O_CLOEXEC), type });
    }
    // The mount namespace last in, first out: /proc paths above resolve on the host.
    targets.sort((a, b) => Number(a.type === 'mount') - Number(b.type === 'mount'));
    const entered: { fd: number; type: NamespaceType }[] = [];
    try {
      for (const t of targets) {
        sys.setns(t.fd, NAMESPACE_FLAGS[t.type]);
        entered.push(t);
      }
      return fn();
    } finally {
      for (const t of entered.reverse()) {
        const back = restore.find((r) => r.type === t.type);
        if (back === undefined) continue;
        try {
          sys.setns(back.fd, NAMESPACE_FLAGS[t.type]);
        } catch (err) {
          // Staying in a container's namespace would act on the container from here on: stop.
          throw new KapselError('ERR_NAMESPACE_RESTORE', `return to the runtime's ${t.type} namespace`, { cause: err });
        }
      }
      sys.fchdir(cwd);
    }
  } finally {
    for (const r of [...restore, ...targets]) sys.close(r.fd);
    sys.close(cwd);
  }
}
