import type { Lease } from '../storage/lease';
import { isFinal, type UpgradeStatus } from '../tracking/state';
import type { FleetState, NotEligibleReason } from './records';

/**
 * Fleet waves: an operator moves the customers a scan found eligible in batches of at most 200. A wave's record
 * (state, pace, times, the runner's lease) and one row per member (where that customer stands), in the `Fleet` table.
 */

/** The most customers one wave moves. */
export const MAX_WAVE_MEMBERS = 200;

/**
 * `running`: customers are started at the wave's pace; `paused`: none is started until it resumes; `following`: no
 * customer is left to start (all started, skipped or failed, or the wave was cancelled), the upgrades started are
 * followed to their end; `completed` / `cancelled`: every member is settled (skipped, failed to create, or its upgrade
 * final), the end of a wave that ran its course or was cancelled.
 */
export const WAVE_STATES = ['running', 'paused', 'following', 'completed', 'cancelled'] as const;
export type WaveState = (typeof WAVE_STATES)[number];

/** How the members were chosen. */
export type WaveSelection =
  /** Customers named by id: how many were asked for. */
  { kind: 'customers'; count: number } | { kind: 'select'; state: 'eligible'; resellerMpnId?: string; limit: number };

export interface WaveRecord {
  waveId: string;
  state: WaveState;
  selection: WaveSelection;
  /** Customers started per minute (each: eligibility re-checked, then the create). */
  createsPerMinute: number;
  /** How many members the wave has. */
  members: number;
  /** ISO times. */
  createdAt: string;
  /** The first timer run that worked on it. */
  startedAt?: string;
  pausedAt?: string;
  cancelledAt?: string;
  /** When no member was left to start. */
  createsDoneAt?: string;
  finishedAt?: string;
  updatedAt: string;
  /** Timer runs that worked on the wave. */
  runs: number;
  lastError?: string;
  lastErrorAt?: string;
  lease?: Lease;
}

/** The states of a wave not ended: every timer run works on it. */
export const ACTIVE_WAVE_STATES: readonly WaveState[] = ['running', 'paused', 'following'];

export function isActive(state: WaveState): boolean {
  return ACTIVE_WAVE_STATES.includes(state);
}

/** Running or paused: the wave still has customers to start, and holds the one wave slot. */
export function holdsSlot(state: WaveState): boolean {
  return state === 'running' || state === 'paused';
}

/**
 * The one wave slot: the wave that may still start customers (running or paused), if any. One row, so "one wave at a
 * time" is a conditional write on it.
 */
export interface WaveSlot {
  activeWaveId?: string;
  lastWaveId?: string;
}

/**
 * Where a member stands: `pending` (not started), `creating` (its create may have been sent and its upgrade is not
 * recorded yet: re-checked before anything else), `skipped` (the re-check or the create said it cannot move),
 * `create-failed` (the create kept failing), `handed-over` (its upgrade is tracked; `upgradeStatus` follows it).
 */
export const MEMBER_STATUSES = ['pending', 'creating', 'skipped', 'create-failed', 'handed-over'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

/** Why a member was skipped: what its re-check (or the create's refusal) said. */
export interface MemberSkip {
  state: Exclude<FleetState, 'eligible' | 'upgrade-in-progress'>;
  reason?: NotEligibleReason;
  code?: number;
  nextStep: string;
}

export interface WaveMember {
  waveId: string;
  customerId: string;
  companyName?: string;
  status: MemberStatus;
  /** Failed tries to start the customer (Partner Center busy or failing): at MAX_START_ATTEMPTS it is create-failed. */
  attempts: number;
  skip?: MemberSkip;
  /** The last failure: category, Partner Center's code, and its description for operators (never shown by the API). */
  lastError?: { category: string; code?: number; text: string };
  /** The upgrade handed to the tracking. */
  upgradeId?: string;
  /** The upgrade's status as last read from its tracking row. */
  upgradeStatus?: UpgradeStatus;
  updatedAt: string;
}

/** What a member counts as in a wave's progress. */
export const MEMBER_PROGRESS = [
  'not-started',
  'creating',
  'skipped',
  'create-failed',
  'in-progress',
  'completed',
  'failed',
  'stale',
  'cancelled',
] as const;
export type MemberProgress = (typeof MEMBER_PROGRESS)[number];

/** A member's place in the progress: a pending member of a cancelled wave is `cancelled` (it will never start). */
export function progressOf(member: Pick<WaveMember, 'status' | 'upgradeStatus'>, cancelled: boolean): MemberProgress {
  switch (member.status) {
    case 'pending':
      return cancelled ? 'cancelled' : 'not-started';
    case 'creating':
      return 'creating';
    case 'skipped':
      return 'skipped';
    case 'create-failed':
      return 'create-failed';
    case 'handed-over':
      return upgradeProgress(member.upgradeStatus);
  }
}

function upgradeProgress(status: UpgradeStatus | undefined): MemberProgress {
  switch (status) {
    case 'Completed':
      return 'completed';
    case 'Failed':
    case 'Cancelled':
      return 'failed';
    case 'Stale':
      return 'stale';
    case undefined:
    case 'Pending':
    case 'InProgress':
    case 'Unknown':
      return 'in-progress';
  }
}

/** Settled: nothing more will happen to the member (skipped, failed to create, never started, or its upgrade final). */
export function isSettled(member: Pick<WaveMember, 'status' | 'upgradeStatus'>, cancelled: boolean): boolean {
  switch (member.status) {
    case 'pending':
      return cancelled;
    case 'creating':
      return false;
    case 'skipped':
    case 'create-failed':
      return true;
    case 'handed-over':
      return !isInFlight(member);
  }
}

/** Handed to the tracking and its upgrade not final yet (followed by every run until it is). */
export function isInFlight(member: Pick<WaveMember, 'status' | 'upgradeStatus'>): boolean {
  return member.status === 'handed-over' && !(member.upgradeStatus !== undefined && isFinal(member.upgradeStatus));
}

/** Left to start: pending (unless the wave was cancelled) or creating. */
export function isOpen(member: Pick<WaveMember, 'status'>, cancelled: boolean): boolean {
  return member.status === 'creating' || (member.status === 'pending' && !cancelled);
}

/** Why a skipped member was skipped, as one word: the reason of a `not-eligible`, else its state. */
export function skipKey(skip: MemberSkip): string {
  return skip.reason ?? skip.state;
}

export interface WaveProgress {
  members: number;
  notStarted: number;
  creating: number;
  skipped: number;
  skippedByReason: Record<string, number>;
  createFailed: number;
  inProgress: number;
  completed: number;
  failed: number;
  stale: number;
  cancelled: number;
  /**
   * Members whose upgrade was handed to the tracking: created by the wave, or named by Partner Center at the re-check
   * (an upgrade started since the scan, or by a create of a run that died).
   */
  created: number;
}

/** The wave's progress, counted from its member rows (one query; at most 200 rows). */
export function countProgress(members: Iterable<WaveMember>, cancelled: boolean): WaveProgress {
  const progress: WaveProgress = {
    members: 0,
    notStarted: 0,
    creating: 0,
    skipped: 0,
    skippedByReason: {},
    createFailed: 0,
    inProgress: 0,
    completed: 0,
    failed: 0,
    stale: 0,
    cancelled: 0,
    created: 0,
  };
  for (const member of members) {
    progress.members++;
    if (member.status === 'handed-over') progress.created++;
    const place = progressOf(member, cancelled);
    switch (place) {
      case 'not-started':
        progress.notStarted++;
        break;
      case 'creating':
        progress.creating++;
        break;
      case 'skipped': {
        progress.skipped++;
        const key = member.skip ? skipKey(member.skip) : 'other';
        progress.skippedByReason[key] = (progress.skippedByReason[key] ?? 0) + 1;
        break;
      }
      case 'create-failed':
        progress.createFailed++;
        break;
      case 'in-progress':
        progress.inProgress++;
        break;
      case 'completed':
        progress.completed++;
        break;
      case 'failed':
        progress.failed++;
        break;
      case 'stale':
        progress.stale++;
        break;
      case 'cancelled':
        progress.cancelled++;
        break;
    }
  }
  return progress;
}
