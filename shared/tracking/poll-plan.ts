import type { UpgradeStatusResult } from '../partner-center/types';
import { scheduleRowKey } from './entities';
import { digestKey } from './keys';
import { notificationEventId, notificationFor } from '../callbacks/events';
import type { HistoryEntry, PollState, UpgradeNotification, UpgradeRecord } from './records';
import { nextPollAt, type RandomSource, type ScheduleConfig } from './schedule';
import { applyObservation, isFinal, markStale, type TrackedState, type Transition, type UpgradeStatus } from './state';
import type { PollCommit } from './store';

/**
 * One poll's decision, as a pure function of the upgrade's poll state (its schedule row), what the poll learnt, the
 * clock reading and a random source: no I/O. The poll run then applies the plan: the notification first (for a
 * final status), then one transaction (`commitOf`).
 */

/** What one poll learnt. */
export type PollOutcome =
  /** Partner Center answered with the upgrade's status. */
  | { kind: 'observed'; result: UpgradeStatusResult }
  /** The status call failed (after any retries within the run); `retryAfterMs` when it was throttled. */
  | { kind: 'failed'; category: string; code?: number; error: string; retryAfterMs?: number }
  /** No call was needed: the status was already final, only its notification is left to send. */
  | { kind: 'final-already' };

interface PlanFields {
  /** The poll state after this poll (what the next schedule row carries). */
  state: PollState;
  /** The fields of the upgrade row that change. */
  upgrade: Partial<UpgradeRecord>;
  /** A history row, when the status or the line items changed. */
  history?: HistoryEntry;
  /** The status before this poll, and whether it moved (telemetry and the run's counters). */
  from: UpgradeStatus;
  statusChanged: boolean;
  becameFinal: boolean;
}

export type PollPlan =
  /** Not final: poll again at `dueAt`. */
  | (PlanFields & { kind: 'reschedule'; dueAt: number })
  /** Final: send the notification, then leave the schedule. */
  | (PlanFields & { kind: 'finish'; notification: UpgradeNotification });

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function trackedState(state: PollState): TrackedState {
  return {
    status: state.status,
    rawStatus: state.rawStatus,
    rank: state.statusRank,
    observedAt: state.observedAt ? Date.parse(state.observedAt) : undefined,
  };
}

/** Past the maximum age and still not final: Stale. */
function ageOut(transition: Transition, state: PollState, at: number, maxAgeMs: number): Transition {
  if (isFinal(transition.state.status)) return transition;
  if (at < Date.parse(state.createdAt) + maxAgeMs) return transition;
  return markStale(transition.state, at);
}

/** What the outcome changes before the state machine's verdict is folded in. */
function outcomeChanges(
  state: PollState,
  outcome: PollOutcome,
  at: number,
): { transition: Transition; itemsChanged: boolean; changes: Partial<UpgradeRecord> } {
  const current = trackedState(state);
  switch (outcome.kind) {
    case 'observed': {
      const { result } = outcome;
      const transition = applyObservation(current, {
        status: result.status,
        rawStatus: result.rawStatus,
        observedAt: at,
      });
      const lineItemsDigest = digestKey(JSON.stringify(result.lineItems));
      const accepted = !transition.ignored;
      return {
        transition,
        itemsChanged: accepted && lineItemsDigest !== state.lineItemsDigest,
        changes: {
          pollCount: state.pollCount + 1,
          lastPolledAt: iso(at),
          attempts: 0,
          ...(accepted
            ? {
                lineItems: result.lineItems,
                lineItemCount: result.lineItems.length,
                lineItemsTruncated: false,
                lineItemsDigest,
                errorDetails: result.errorDetails,
              }
            : {}),
        },
      };
    }
    case 'failed':
      // A failure is no evidence that nothing changed: it backs off through `attempts`, not `unchangedPolls`.
      return {
        transition: { state: current, changed: false },
        itemsChanged: false,
        changes: {
          attempts: state.attempts + 1,
          lastPolledAt: iso(at),
          lastError: outcome.error,
          lastErrorCategory: outcome.category,
          lastErrorCode: outcome.code,
          lastErrorAt: iso(at),
        },
      };
    case 'final-already':
      return { transition: { state: current, changed: false, ignored: 'final' }, itemsChanged: false, changes: {} };
  }
}

/** The plan for one poll of the upgrade whose schedule row carries `state`, after `outcome`, at `at` (epoch ms). */
export function planPoll(
  state: PollState,
  outcome: PollOutcome,
  at: number,
  config: ScheduleConfig,
  random: RandomSource,
): PollPlan {
  const observed = outcomeChanges(state, outcome, at);
  const transition = ageOut(observed.transition, state, at, config.maxAgeMs);
  const changed = transition.changed || observed.itemsChanged;
  const next = transition.state;
  const upgrade: Partial<UpgradeRecord> = {
    ...observed.changes,
    status: next.status,
    rawStatus: next.rawStatus,
    statusRank: next.rank,
    observedAt: next.observedAt !== undefined ? iso(next.observedAt) : state.observedAt,
    updatedAt: iso(at),
  };
  if (outcome.kind === 'observed') upgrade.unchangedPolls = changed ? 0 : state.unchangedPolls + 1;
  let history: HistoryEntry | undefined;
  if (changed) {
    history = {
      sequence: state.historySeq + 1,
      observedAt: iso(at),
      status: next.status,
      rawStatus: next.rawStatus,
      // Line items as observed now (none when this change came without an observation: a failed poll aged out).
      lineItems: upgrade.lineItems,
      lineItemCount: upgrade.lineItemCount ?? state.lineItemCount,
      errorDetails: upgrade.errorDetails,
    };
    upgrade.historySeq = history.sequence;
  }
  const common = {
    history,
    from: state.status,
    statusChanged: transition.changed,
    becameFinal: isFinal(next.status) && !isFinal(state.status),
  };
  if (isFinal(next.status)) {
    const final: Partial<UpgradeRecord> = {
      ...upgrade,
      completedAt: state.completedAt ?? iso(at),
      notifyEventId: notificationEventId(state.upgradeId, next.status),
      nextPollAt: undefined,
    };
    const after = nextState(state, final);
    const notification = notificationFor({ ...after, status: next.status, updatedAt: iso(at) });
    return { kind: 'finish', ...common, upgrade: final, state: after, notification };
  }
  const dueAt = nextPollAt(
    at,
    {
      status: next.status,
      unchangedPolls: upgrade.unchangedPolls ?? state.unchangedPolls,
      failures: upgrade.attempts ?? state.attempts,
      retryAfterMs: outcome.kind === 'failed' ? outcome.retryAfterMs : undefined,
      createdAt: Date.parse(state.createdAt),
    },
    config,
    random,
  );
  const rescheduled: Partial<UpgradeRecord> = {
    ...upgrade,
    nextPollAt: iso(dueAt),
    scheduleKey: scheduleRowKey(dueAt, state.upgradeId),
  };
  return { kind: 'reschedule', ...common, upgrade: rescheduled, state: nextState(state, rescheduled), dueAt };
}

/** The poll state after the upgrade's changes. */
function nextState(state: PollState, upgrade: Partial<UpgradeRecord>): PollState {
  const next = { ...state };
  for (const key of Object.keys(next) as (keyof PollState)[]) {
    if (Object.prototype.hasOwnProperty.call(upgrade, key)) (next as Record<string, unknown>)[key] = upgrade[key];
  }
  return next;
}

/**
 * The transaction that applies a plan to the schedule row `rowKey`: a rescheduled upgrade moves to its next row; a
 * final one leaves the schedule once its notification was sent (`notifiedAt`), or, when sending failed, keeps its row
 * with the final state, due at once, so the next run sends it without asking Partner Center again.
 */
export function commitOf(plan: PollPlan, rowKey: string, notifiedAt?: number): PollCommit {
  const upgradeId = plan.state.upgradeId;
  if (plan.kind === 'reschedule') {
    return {
      upgradeId,
      upgrade: plan.upgrade,
      history: plan.history,
      schedule: { kind: 'move', dueAt: plan.dueAt, state: plan.state },
    };
  }
  if (notifiedAt === undefined) {
    return {
      upgradeId,
      upgrade: { ...plan.upgrade, scheduleKey: rowKey },
      history: plan.history,
      schedule: { kind: 'keep', state: plan.state },
    };
  }
  return {
    upgradeId,
    upgrade: { ...plan.upgrade, scheduleKey: '', notifiedAt: iso(notifiedAt), updatedAt: iso(notifiedAt) },
    history: plan.history,
    schedule: { kind: 'leave' },
  };
}
