/**
 * The state JSON of runtime-spec runtime.md "State". Its own small module: `state` prints it and
 * must not load create.ts's graph to do so (issue 9).
 */
import type { State } from '../oci/runtime-spec.js';
import type { ContainerRecord } from './state-store.js';

/** The state JSON of runtime-spec runtime.md "State", given to hooks and printed by `state`. */
export function ociState(record: ContainerRecord, status: State['status']): State {
  return {
    ociVersion: '1.2.0',
    id: record.id,
    status,
    pid: record.pid,
    bundle: record.bundle,
    annotations: record.annotations,
  };
}
