/**
 * kapsel's typed library API (`import { ... } from 'kapsel'`): the functions behind
 * kapsel-runtime's verbs, for scripts that manage containers and their resource limits.
 * Every function takes the Syscalls to use (linuxSyscalls() for the real kernel) and a
 * StateStore (the `--root` directory); errors are KapselError with a stable `code`.
 */
export { KapselError, NotFoundError, UsageError } from './common/errors.js';
export { createLogger, silentLogger, type Logger } from './common/log.js';
export { linuxSyscalls } from './sys/linux-syscalls.js';
export type { Syscalls } from './sys/syscalls.js';
export { SyscallError } from './sys/syscall-error.js';
export type { Spec, Process, State, Resources } from './oci/runtime-spec.js';
export { validateSpec, parseSpec, formatViolations } from './oci/validate.js';
export { defaultSpec } from './oci/default-spec.js';
export { StateStore, DEFAULT_ROOT, type ContainerRecord } from './runtime/state-store.js';
export { createContainer, type CreateOptions } from './runtime/create.js';
export { startContainer, killContainer, deleteContainer, listContainers, stateOf, type RuntimeState } from './runtime/lifecycle.js';
export { runContainer, type RunOptions } from './runtime/run.js';
export { execInContainer, type ExecOptions } from './runtime/exec.js';
export { destroyRecordedCgroup, recordedPids } from './runtime/cgroup-cleanup.js';
export { pauseContainer, resumeContainer } from './runtime/pause.js';
export { updateContainer, resourcesFromFlags, parseMemoryBytes } from './runtime/update.js';
export { containerStats, containerEvents } from './runtime/events.js';
export { containerPids } from './runtime/ps.js';
export { containerCgroupManager } from './runtime/container-manager.js';
export { parseSignal } from './runtime/signals.js';
export type { CgroupManager, CgroupStats } from './cgroups/manager.js';
export { Kapsel, type KapselOptions, type RunRequest } from './engine/kapsel.js';
