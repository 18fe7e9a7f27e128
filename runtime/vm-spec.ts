/**
 * Whether a spec asks for a VM container (runtime/vm-container.ts): apart from it so that asking
 * loads nothing of microvm/ (kapsel-runtime daemon asks before it takes a request).
 */
import type { Spec } from '../oci/runtime-spec.js';

/** The annotation that selects a VM container (`kapsel run --isolation vm` sets it). */
export const ISOLATION_ANNOTATION = 'run.kapsel.isolation';

export function isVmSpec(spec: Spec): boolean {
  return spec.annotations?.[ISOLATION_ANNOTATION] === 'vm' || spec.vm !== undefined;
}
