import { heldByOther, type Lease } from '../storage/lease';
import { holdsSlot, isActive, type WaveMember, type WaveRecord, type WaveSlot, type WaveState } from './wave-records';

/**
 * Every change of a wave's record and of the wave slot, as pure decisions: the row as read in, what to write (and
 * what to write with it in the same transaction) out. The store runs them through the one conditional update, so a
 * conflict (an operator's pause landing while a run writes, two creations at once) re-reads the row and decides again.
 */

export interface WaveDecision<R> {
  result: R;
  /** The record to store (a Replace conditional on the ETag read). */
  write?: WaveRecord;
  /** Member rows written with it, in the same transaction. */
  members?: WaveMember[];
  /**
   * The wave slot, written with it: only when the wave stops holding it (leaving running or paused), which happens
   * once, while no other wave can take the slot — so the slot needs no condition of its own.
   */
  slot?: WaveSlot;
}

const iso = (epochMs: number): string => new Date(epochMs).toISOString();

// ---- Creation (a decision over the slot) -------------------------------------------------------------------------

export type CreateResult = { outcome: 'created'; wave: WaveRecord } | { outcome: 'exists'; waveId: string };

/** A new wave takes the slot, unless another wave still holds it (one wave at a time): that one is handed back. */
export function decideWaveCreate(
  slot: WaveSlot | undefined,
  wave: WaveRecord,
): { result: CreateResult; write?: WaveSlot; create?: WaveRecord } {
  if (slot?.activeWaveId) return { result: { outcome: 'exists', waveId: slot.activeWaveId } };
  return {
    result: { outcome: 'created', wave },
    write: { activeWaveId: wave.waveId, lastWaveId: wave.waveId },
    create: wave,
  };
}

// ---- The runner: claim, member writes, settle, release ----------------------------------------------------------

export type ClaimResult = { outcome: 'claimed'; wave: WaveRecord } | { outcome: 'busy' | 'ended' | 'none' };

/** A timer run takes an active wave, unless another run's lease on it is in force. */
export function decideWaveClaim(wave: WaveRecord | undefined, lease: Lease, now: number): WaveDecision<ClaimResult> {
  if (!wave) return { result: { outcome: 'none' } };
  if (!isActive(wave.state)) return { result: { outcome: 'ended' } };
  if (heldByOther(wave.lease, lease.owner, now)) return { result: { outcome: 'busy' } };
  const claimed: WaveRecord = {
    ...wave,
    startedAt: wave.startedAt ?? iso(now),
    updatedAt: iso(now),
    runs: wave.runs + 1,
    lease,
  };
  return { result: { outcome: 'claimed', wave: claimed }, write: claimed };
}

export interface RunWrite {
  lease: Lease;
  now: number;
}

export type MembersResult =
  | { outcome: 'written'; wave: WaveRecord }
  /** Another run holds the wave now (this run's lease ran out and was taken). */
  | { outcome: 'lost' }
  /** The write starts customers, and the wave no longer does (paused, cancelled, or past it). */
  | { outcome: 'not-running'; wave: WaveRecord };

function owned(wave: WaveRecord | undefined, lease: Lease): wave is WaveRecord {
  return wave !== undefined && wave.lease?.owner === lease.owner && isActive(wave.state);
}

/**
 * Member rows a run writes, with the record (its lease renewed) in one transaction. `startsCustomers`: the write
 * marks members `creating` (a create follows it), which only a running wave does; recording what happened to a
 * customer (skipped, its upgrade handed over, a failure) is written whatever the wave's state.
 */
export function decideMembers(
  wave: WaveRecord | undefined,
  write: RunWrite & { members: WaveMember[]; startsCustomers: boolean },
): WaveDecision<MembersResult> {
  if (!owned(wave, write.lease)) return { result: { outcome: 'lost' } };
  if (write.startsCustomers && wave.state !== 'running') return { result: { outcome: 'not-running', wave } };
  const next: WaveRecord = { ...wave, updatedAt: iso(write.now), lease: write.lease };
  return { result: { outcome: 'written', wave: next }, write: next, members: write.members };
}

/** What the run knows of the members after its work: how many are left to start, and how many upgrades are running. */
export interface MemberTally {
  /** Pending (unless the wave was cancelled) or creating. */
  open: number;
  /** Handed over, their upgrade not final yet. */
  inFlight: number;
}

export type SettleResult =
  | { outcome: 'unchanged'; wave: WaveRecord }
  | { outcome: 'moved'; wave: WaveRecord; from: WaveState }
  | { outcome: 'lost' };

/**
 * Where the wave stands after a run's work: a running (or paused) wave with no member left to start follows its
 * upgrades (and gives up the slot); a wave with every member settled ends — `completed`, or `cancelled` when an
 * operator cancelled it.
 */
export function decideSettle(
  wave: WaveRecord | undefined,
  write: RunWrite & { tally: MemberTally },
): WaveDecision<SettleResult> {
  if (!owned(wave, write.lease)) return { result: { outcome: 'lost' } };
  const { open, inFlight } = write.tally;
  const at = iso(write.now);
  let next: WaveRecord | undefined;
  if (open === 0 && inFlight === 0) {
    const { lease: _lease, ...rest } = wave;
    next = {
      ...rest,
      state: wave.cancelledAt ? 'cancelled' : 'completed',
      createsDoneAt: wave.createsDoneAt ?? at,
      finishedAt: at,
      updatedAt: at,
    };
  } else if (open === 0 && holdsSlot(wave.state)) {
    next = { ...wave, state: 'following', createsDoneAt: at, updatedAt: at, lease: write.lease };
  }
  if (!next) return { result: { outcome: 'unchanged', wave } };
  return {
    result: { outcome: 'moved', wave: next, from: wave.state },
    write: next,
    ...(holdsSlot(wave.state) ? { slot: { lastWaveId: wave.waveId } } : {}),
  };
}

/** The run ends with the wave still active: its lease released, so the next run takes it at once. */
export function decideRelease(
  wave: WaveRecord | undefined,
  write: RunWrite & { error?: string },
): WaveDecision<{ outcome: 'released' | 'lost' }> {
  if (!owned(wave, write.lease)) return { result: { outcome: 'lost' } };
  const { lease: _lease, ...rest } = wave;
  const next: WaveRecord = {
    ...rest,
    updatedAt: iso(write.now),
    ...(write.error === undefined ? {} : { lastError: write.error, lastErrorAt: iso(write.now) }),
  };
  return { result: { outcome: 'released' }, write: next };
}

// ---- The operator: pause, resume, cancel -------------------------------------------------------------------------

export type WaveCommand = 'pause' | 'resume' | 'cancel';

export type CommandResult =
  | { outcome: 'done'; wave: WaveRecord }
  /** The command does not apply to the wave as it is: why, in words. */
  | { outcome: 'refused'; wave: WaveRecord; why: string }
  | { outcome: 'not-found' };

function refused(wave: WaveRecord, why: string): WaveDecision<CommandResult> {
  return { result: { outcome: 'refused', wave, why } };
}

function ended(wave: WaveRecord): string {
  return `the wave has ended (${wave.state})`;
}

const NOTHING_TO_START = 'no customer is left to start: the wave only follows the upgrades it started';

function pause(wave: WaveRecord, at: string): WaveDecision<CommandResult> {
  switch (wave.state) {
    case 'running': {
      const next: WaveRecord = { ...wave, state: 'paused', pausedAt: at, updatedAt: at };
      return { result: { outcome: 'done', wave: next }, write: next };
    }
    case 'paused':
      return refused(wave, 'the wave is paused already');
    case 'following':
      return refused(wave, NOTHING_TO_START);
    case 'completed':
    case 'cancelled':
      return refused(wave, ended(wave));
  }
}

function resume(wave: WaveRecord, at: string): WaveDecision<CommandResult> {
  switch (wave.state) {
    case 'paused': {
      const { pausedAt: _pausedAt, ...rest } = wave;
      const next: WaveRecord = { ...rest, state: 'running', updatedAt: at };
      return { result: { outcome: 'done', wave: next }, write: next };
    }
    case 'running':
      return refused(wave, 'the wave is not paused: it is running');
    case 'following':
      return refused(wave, NOTHING_TO_START);
    case 'completed':
    case 'cancelled':
      return refused(wave, ended(wave));
  }
}

function cancel(wave: WaveRecord, at: string): WaveDecision<CommandResult> {
  switch (wave.state) {
    case 'running':
    case 'paused': {
      // Following until a run has seen every upgrade it started final (or that none was started); the slot is free.
      const next: WaveRecord = { ...wave, state: 'following', cancelledAt: at, updatedAt: at };
      return { result: { outcome: 'done', wave: next }, write: next, slot: { lastWaveId: wave.waveId } };
    }
    case 'following':
      return refused(
        wave,
        wave.cancelledAt ? 'the wave is cancelled already: it follows the upgrades it started' : NOTHING_TO_START,
      );
    case 'completed':
    case 'cancelled':
      return refused(wave, ended(wave));
  }
}

/**
 * An operator's command, whatever a run is doing (it needs no lease: the run's next write re-reads the record and
 * sees it). Pause: no customer is started until resume. Cancel: none is ever started again, the upgrades started are
 * followed to their end, and the slot is free for the next wave.
 */
export function decideCommand(
  wave: WaveRecord | undefined,
  command: WaveCommand,
  now: number,
): WaveDecision<CommandResult> {
  if (!wave) return { result: { outcome: 'not-found' } };
  const at = iso(now);
  switch (command) {
    case 'pause':
      return pause(wave, at);
    case 'resume':
      return resume(wave, at);
    case 'cancel':
      return cancel(wave, at);
  }
}
