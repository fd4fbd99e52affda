import type { NormalizedUpgradeStatus } from '../partner-center/types';

/**
 * The upgrade state machine. Status only moves forward (by rank); a final status never changes; an observation
 * older than the one stored never overwrites it; a status Partner Center sends that we do not know is recorded as
 * `Unknown` with its raw text, without lowering the rank already reached.
 */

export type FinalStatus = 'Completed' | 'Failed' | 'Cancelled' | 'Stale';
export type KnownStatus = 'Pending' | 'InProgress' | FinalStatus;
export type UpgradeStatus = KnownStatus | 'Unknown';

export const FINAL_STATUSES: readonly FinalStatus[] = ['Completed', 'Failed', 'Cancelled', 'Stale'];

const RANK: Record<KnownStatus, number> = {
  Pending: 1,
  InProgress: 2,
  Completed: 3,
  Failed: 3,
  Cancelled: 3,
  Stale: 3,
};

export function isFinal(status: UpgradeStatus): status is FinalStatus {
  return (FINAL_STATUSES as readonly string[]).includes(status);
}

export function rankOf(status: KnownStatus): number {
  return RANK[status];
}

export interface TrackedState {
  status: UpgradeStatus;
  /** Partner Center's text for the status, verbatim ('' before the first observation). */
  rawStatus: string;
  /** Highest known rank reached (0 = nothing observed yet); `Unknown` never changes it. */
  rank: number;
  /** Epoch ms of the observation this state comes from (undefined before the first). */
  observedAt: number | undefined;
}

export interface Observation {
  status: NormalizedUpgradeStatus;
  rawStatus: string;
  observedAt: number;
}

export type IgnoredBecause = 'final' | 'older' | 'regression';

export interface Transition {
  state: TrackedState;
  /** The status (or, for Unknown, its raw text) differs from before. */
  changed: boolean;
  ignored?: IgnoredBecause;
}

export const INITIAL_STATE: TrackedState = { status: 'Pending', rawStatus: '', rank: 0, observedAt: undefined };

export function applyObservation(current: TrackedState, observation: Observation): Transition {
  if (isFinal(current.status)) return { state: current, changed: false, ignored: 'final' };
  if (current.observedAt !== undefined && observation.observedAt < current.observedAt) {
    return { state: current, changed: false, ignored: 'older' };
  }
  if (observation.status === 'Unknown') {
    const next: TrackedState = {
      status: 'Unknown',
      rawStatus: observation.rawStatus,
      rank: current.rank,
      observedAt: observation.observedAt,
    };
    return { state: next, changed: current.status !== 'Unknown' || current.rawStatus !== observation.rawStatus };
  }
  const rank = rankOf(observation.status);
  if (rank < current.rank) return { state: current, changed: false, ignored: 'regression' };
  const next: TrackedState = {
    status: observation.status,
    rawStatus: observation.rawStatus,
    rank,
    observedAt: observation.observedAt,
  };
  return { state: next, changed: current.status !== observation.status || current.rawStatus !== observation.rawStatus };
}

/** The app's own final status for an upgrade not final after the maximum age. */
export function markStale(current: TrackedState, at: number): Transition {
  if (isFinal(current.status)) return { state: current, changed: false, ignored: 'final' };
  return { state: { status: 'Stale', rawStatus: current.rawStatus, rank: RANK.Stale, observedAt: at }, changed: true };
}
