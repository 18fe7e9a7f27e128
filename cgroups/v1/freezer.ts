/**
 * v1 `freezer` controller (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst).
 *
 * Writing FROZEN starts freezing; freezer.state reads FREEZING until every task has stopped,
 * then FROZEN. Tasks that fork meanwhile can keep it in FREEZING, so the manager rewrites
 * FROZEN while it polls (runc fs/freezer.go does the same).
 */

import { KapselError } from '../../common/errors.js';

export type FreezerState = 'THAWED' | 'FREEZING' | 'FROZEN';

export const FREEZER_STATE = 'freezer.state';

export function parseFreezerState(text: string): FreezerState {
  const state = text.trim();
  if (state === 'THAWED' || state === 'FREEZING' || state === 'FROZEN') return state;
  throw new KapselError('ERR_CGROUP_READ', `read freezer state: unknown value \`${state}\``);
}
