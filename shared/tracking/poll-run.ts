import { randomUUID } from 'node:crypto';
import type { PollConfig } from '../config';
import type { ProductUpgrades, UpgradeStatusResult } from '../partner-center/types';
import type { Telemetry } from '../telemetry/telemetry';
import { asPartnerCenterError, describeError } from './errors';
import { digestKey, parseTimeKey } from './keys';
import { notificationEventId, notificationFor, type Notifier } from '../callbacks/events';
import type { HistoryEntry, PollRunRecord, ScheduleRow, UpgradeRecord } from './records';
import { monotonicNow, RequestGate, type MonotonicClock } from './request-gate';
import { nextPollAt, type RandomSource } from './schedule';
import { newUpgradeRecord } from './start-tracking';
import { applyObservation, isFinal, markStale, type FinalStatus, type TrackedState, type Transition } from './state';
import { scheduleRowKey, type TrackingStore } from './store';

/** Pause after a 429 that carried no Retry-After. */
export const DEFAULT_THROTTLE_PAUSE_MS = 30_000;
/** Times one upgrade is retried within a run after a 429 (each after the shared pause). */
export const MAX_THROTTLE_RETRIES = 3;

export interface PollRunOptions {
  store: TrackingStore;
  partnerCenter: ProductUpgrades;
  config: PollConfig;
  telemetry: Telemetry;
  /** Sends final-status notifications (production: `queueNotifier(upgrade-notifications queue)`). */
  notify: Notifier;
  /** Wall clock for stored times and what is due (default Date.now). */
  now?: () => number;
  /** Cancels the run (e.g. the host shutting down); work in flight stops at its next await. */
  signal?: AbortSignal;
  random?: RandomSource;
  runId?: string;
  /** How long after the run's start a claim keeps other runs off an upgrade (default: the time budget + 30 s). */
  leaseMs?: number;
  /** Monotonic clock for the time budget and the request gate (tests may pass their own). */
  clock?: MonotonicClock;
  gate?: RequestGate;
}

export type StopReason = 'time-budget' | 'aborted' | 'auth' | 'storage-error';

export interface PollRunSummary extends PollRunRecord {
  finishedAt: string;
  durationMs: number;
  /** Due rows read but not processed because the run stopped early. */
  outstanding: number;
  stoppedBy?: StopReason;
}

type ClaimResult = 'claimed' | 'missing' | 'orphan' | 'leased';
/** The row as this run's claim wrote it, with its ETag: the next write starts from it instead of a read. */
type KnownRow = { record: UpgradeRecord; etag: string };

/**
 * One poll run: reads what is due through the PollSchedule index only (one RowKey range query per shard), polls
 * each due upgrade with bounded concurrency through a shared rate gate, applies the state machine, moves the
 * upgrade in the schedule, and finishes final upgrades (notification, then leaving the schedule).
 *
 * Overlapping runs: every upgrade is claimed by an ETag-conditional write of a lease on its Upgrades row before it
 * is polled, and every later write is ETag-conditional too, so a second run either skips it or re-applies the same
 * observation through the state machine (which ignores older or equal ones). Crash safety: the live schedule row is
 * the durable to-do marker for every step — it is moved only after the Upgrades row commits the new key, and a final
 * upgrade's row is deleted only after its notification was sent and recorded (`notifiedAt`); a row whose key no
 * longer matches its upgrade (left by a crash) is repaired and removed when it comes due.
 */
export async function pollDueUpgrades(options: PollRunOptions): Promise<PollRunSummary> {
  const run = new PollRun(options);
  return run.execute();
}

class PollRun {
  private readonly now: () => number;
  private readonly clock: MonotonicClock;
  private readonly random: RandomSource;
  private readonly gate: RequestGate;
  private readonly runId: string;
  private readonly leaseUntil: string;
  private readonly deadline: number;
  private readonly started: number;
  private stopReason: StopReason | undefined;
  private readonly summary: PollRunRecord;

  constructor(private readonly options: PollRunOptions) {
    this.now = options.now ?? Date.now;
    this.clock = options.clock ?? monotonicNow;
    this.random = options.random ?? Math.random;
    this.gate = options.gate ?? new RequestGate(options.config.ratePerSecond, this.clock);
    this.runId = options.runId ?? randomUUID();
    this.leaseUntil = iso(this.now() + (options.leaseMs ?? options.config.timeBudgetMs + 30_000));
    this.started = this.clock();
    this.deadline = this.started + options.config.timeBudgetMs;
    this.summary = {
      runId: this.runId,
      startedAt: new Date(this.now()).toISOString(),
      due: 0,
      polled: 0,
      changed: 0,
      throttled: 0,
      errors: 0,
      completed: 0,
      stale: 0,
      notified: 0,
      skipped: 0,
      recovered: 0,
    };
  }

  private stopped(): StopReason | undefined {
    if (this.options.signal?.aborted) this.stopReason ??= 'aborted';
    else if (this.clock() >= this.deadline) this.stopReason ??= 'time-budget';
    return this.stopReason;
  }

  async execute(): Promise<PollRunSummary> {
    const { store, telemetry, config } = this.options;
    const etag = await store.startPollRun(this.summary);
    let outstanding = 0;
    const due = this.dueRows();
    const worker = async () => {
      for (;;) {
        if (this.stopped()) return;
        let next: IteratorResult<ScheduleRow>;
        try {
          next = await due.next();
        } catch (error) {
          // The due query itself failed (storage unavailable): nothing more can be read this run.
          if (!this.options.signal?.aborted) {
            this.summary.errors++;
            this.stopReason ??= 'storage-error';
            telemetry.exception(error instanceof Error ? error : new Error(String(error)), { runId: this.runId });
          }
          return;
        }
        if (next.done) return;
        this.summary.due++;
        if (this.stopped()) {
          outstanding++;
          return;
        }
        await this.processRow(next.value);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.floor(config.concurrency)) }, worker));
    } finally {
      await due.return(undefined);
    }
    const durationMs = Math.round(this.clock() - this.started);
    const summary: PollRunSummary = {
      ...this.summary,
      finishedAt: new Date(this.now()).toISOString(),
      durationMs,
      outstanding,
      stoppedBy: this.stopReason,
    };
    await store.finishPollRun(summary, etag);
    telemetry.event(
      'PollRunCompleted',
      { runId: this.runId, ...(summary.stoppedBy ? { stoppedBy: summary.stoppedBy } : {}) },
      {
        due: summary.due,
        polled: summary.polled,
        changed: summary.changed,
        throttled: summary.throttled,
        errors: summary.errors,
        durationMs,
        outstanding,
        rateCuts: this.gate.rateCuts,
        finalRatePerSecond: this.gate.ratePerSecond(),
      },
    );
    return summary;
  }

  /**
   * Due rows of all shards merged oldest first (one RowKey range query per shard, paged lazily), so a run cut short
   * by its budget has served the longest-waiting upgrades, whichever shard they are in.
   */
  private async *dueRows(): AsyncGenerator<ScheduleRow> {
    const { store, signal } = this.options;
    const at = this.now();
    const streams = store.shards.map((shard) => store.dueRows(shard, at, signal));
    try {
      const heads: IteratorResult<ScheduleRow>[] = await Promise.all(streams.map((stream) => stream.next()));
      for (;;) {
        let oldest = -1;
        for (let i = 0; i < heads.length; i++) {
          const head = heads[i];
          if (head.done) continue;
          const best = oldest >= 0 ? heads[oldest] : undefined;
          if (!best || best.done || head.value.rowKey < best.value.rowKey) oldest = i;
        }
        if (oldest < 0) return;
        const head = heads[oldest];
        if (head.done) return;
        yield head.value;
        heads[oldest] = await streams[oldest].next();
      }
    } finally {
      await Promise.all(streams.map((stream) => stream.return(undefined)));
    }
  }

  private async processRow(row: ScheduleRow): Promise<void> {
    try {
      await this.processScheduleRow(row);
    } catch (error) {
      if (this.options.signal?.aborted) return;
      this.summary.errors++;
      const described = describeError(error);
      this.options.telemetry.exception(error instanceof Error ? error : new Error(described.text), {
        upgradeId: row.upgradeId,
        runId: this.runId,
      });
    }
  }

  private async processScheduleRow(row: ScheduleRow): Promise<void> {
    const { store } = this.options;
    for (let pass = 0; pass < 2; pass++) {
      const claim = await store.mutateUpgrade<ClaimResult>(row.upgradeId, (current) => {
        if (!current) return { result: 'missing' };
        if (current.scheduleKey !== row.rowKey) return { result: 'orphan' };
        const leased = current.leaseUntil && Date.parse(current.leaseUntil) > this.now();
        if (leased && current.leaseOwner !== this.runId) return { result: 'leased' };
        const at = this.now();
        return {
          result: 'claimed',
          write: {
            ...current,
            leaseOwner: this.runId,
            leaseUntil: this.leaseUntil,
            updatedAt: new Date(at).toISOString(),
          },
        };
      });
      switch (claim.result) {
        case 'missing':
          // The schedule row was written but its tracking crashed before the Upgrades row: finish it from the row.
          await store.mutateUpgrade(row.upgradeId, (current) =>
            current ? { result: undefined } : { write: newUpgradeRecord(row), result: undefined },
          );
          this.summary.recovered++;
          continue;
        case 'orphan':
          await this.removeOrphan(row, claim.record!);
          return;
        case 'leased':
          this.summary.skipped++;
          return;
        case 'claimed': {
          const record = claim.record!;
          if (record.pollCount === 0) await store.ensureCustomerIndex(record);
          const known = claim.etag ? { record, etag: claim.etag } : undefined;
          if (isFinal(record.status)) await this.finish(record, row);
          else await this.poll(record, row, known);
          return;
        }
      }
    }
  }

  /** Drops this run's claim so the next run can poll the upgrade at once. */
  private async release(upgradeId: string): Promise<void> {
    await this.options.store.mutateUpgrade(upgradeId, (current) =>
      current && current.leaseOwner === this.runId
        ? { result: undefined, write: { ...current, leaseOwner: undefined, leaseUntil: undefined } }
        : { result: undefined },
    );
  }

  /** A schedule row its upgrade no longer points at: make sure the one it does point at exists, then drop this one. */
  private async removeOrphan(row: ScheduleRow, record: UpgradeRecord): Promise<void> {
    const { store } = this.options;
    if (record.scheduleKey) {
      await store.insertScheduleRow({ ...row, rowKey: record.scheduleKey, dueAt: parseTimeKey(record.scheduleKey) });
    }
    await store.deleteScheduleRow(row.shard, row.rowKey);
    this.summary.skipped++;
  }

  private async poll(record: UpgradeRecord, row: ScheduleRow, known?: KnownRow): Promise<void> {
    const { partnerCenter, signal } = this.options;
    let result: UpgradeStatusResult | undefined;
    let failure: unknown;
    let retryAfterMs: number | undefined;
    for (let attempt = 0; ; attempt++) {
      const sentAt = await this.gate.acquire(signal);
      if (this.stopped()) {
        // The budget ran out while waiting for the gate: hand the upgrade back untouched for the next run.
        await this.release(record.upgradeId);
        return;
      }
      this.summary.polled++;
      try {
        result = await partnerCenter.getUpgradeStatus(
          { upgradeId: record.upgradeId, customerId: record.customerId, productFamily: record.productFamily },
          // A 429 comes straight back: the gate pauses and slows every call of the run, not just this one.
          { correlationId: this.runId, abortSignal: signal, throttling: 'return' },
        );
        break;
      } catch (error) {
        const pc = asPartnerCenterError(error);
        if (pc?.category === 'throttled') {
          this.summary.throttled++;
          retryAfterMs = pc.retryAfterMs ?? DEFAULT_THROTTLE_PAUSE_MS;
          this.gate.throttled(retryAfterMs, sentAt);
          if (attempt < MAX_THROTTLE_RETRIES && !this.stopped()) continue;
        } else {
          this.summary.errors++;
          // Credentials are broken for every upgrade alike: stop calling until an operator fixes them.
          if (pc?.category === 'auth') this.stopReason ??= 'auth';
        }
        failure = error;
        break;
      }
    }
    if (result) await this.applyResult(record, row, result, known);
    else await this.recordFailure(row, failure, retryAfterMs, known);
  }

  private async applyResult(
    claimed: UpgradeRecord,
    row: ScheduleRow,
    result: UpgradeStatusResult,
    known?: KnownRow,
  ): Promise<void> {
    const observedAt = this.now();
    const lineItemsDigest = digestKey(JSON.stringify(result.lineItems));
    const outcome = await this.options.store.mutateUpgrade(
      claimed.upgradeId,
      async (current) => {
        if (!current || current.scheduleKey !== row.rowKey) return { result: undefined }; // another run moved on
        let transition = applyObservation(stateOf(current), {
          status: result.status,
          rawStatus: result.rawStatus,
          observedAt,
        });
        const itemsChanged = !transition.ignored && lineItemsDigest !== current.lineItemsDigest;
        const next: UpgradeRecord = {
          ...current,
          pollCount: current.pollCount + 1,
          lastPolledAt: iso(observedAt),
          attempts: 0,
          ...(transition.ignored
            ? {}
            : {
                lineItems: result.lineItems,
                lineItemCount: result.lineItems.length,
                lineItemsTruncated: false,
                lineItemsDigest,
                errorDetails: result.errorDetails,
              }),
        };
        transition = this.ageOut(transition, current, observedAt);
        const changed = transition.changed || itemsChanged;
        next.unchangedPolls = changed ? 0 : current.unchangedPolls + 1;
        return this.commit(current, next, transition, changed, row, observedAt, undefined);
      },
      known,
    );
    await this.afterCommit(outcome.result, row);
  }

  private async recordFailure(
    row: ScheduleRow,
    failure: unknown,
    retryAfterMs: number | undefined,
    known?: KnownRow,
  ): Promise<void> {
    const observedAt = this.now();
    const described = describeError(failure);
    const outcome = await this.options.store.mutateUpgrade(
      row.upgradeId,
      async (current) => {
        if (!current || current.scheduleKey !== row.rowKey) return { result: undefined };
        const next: UpgradeRecord = {
          ...current,
          attempts: current.attempts + 1,
          lastPolledAt: iso(observedAt),
          lastError: described.text,
          lastErrorCategory: described.category,
          lastErrorAt: iso(observedAt),
        };
        // A failure is no evidence that nothing changed: it backs off through `attempts`, not `unchangedPolls`.
        const transition = this.ageOut({ state: stateOf(current), changed: false }, current, observedAt);
        return this.commit(current, next, transition, transition.changed, row, observedAt, retryAfterMs);
      },
      known,
    );
    await this.afterCommit(outcome.result, row);
  }

  /** Past the maximum age and still not final: Stale. */
  private ageOut(transition: Transition, current: UpgradeRecord, at: number): Transition {
    if (isFinal(transition.state.status)) return transition;
    if (at < Date.parse(current.createdAt) + this.options.config.maxAgeMs) return transition;
    return markStale(transition.state, at);
  }

  /**
   * Completes the next record: status fields, a history row when something changed (written before the row that
   * commits it), and the schedule key — the next poll time, or the current row kept as the pending-notification
   * marker when the status is final.
   */
  private async commit(
    current: UpgradeRecord,
    next: UpgradeRecord,
    transition: Transition,
    changed: boolean,
    row: ScheduleRow,
    at: number,
    retryAfterMs: number | undefined,
  ) {
    const state = transition.state;
    next.status = state.status;
    next.rawStatus = state.rawStatus;
    next.statusRank = state.rank;
    next.observedAt = state.observedAt !== undefined ? iso(state.observedAt) : current.observedAt;
    next.updatedAt = iso(at);
    next.leaseOwner = undefined;
    next.leaseUntil = undefined;
    if (changed) {
      const entry: HistoryEntry = {
        sequence: current.historySeq + 1,
        observedAt: iso(at),
        status: next.status,
        rawStatus: next.rawStatus,
        lineItems: next.lineItems,
        lineItemCount: next.lineItemCount,
        errorDetails: next.errorDetails,
      };
      await this.options.store.writeHistory(current.upgradeId, entry, current.historySeq);
      next.historySeq = entry.sequence;
    }
    const becameFinal = isFinal(next.status) && !isFinal(current.status);
    if (isFinal(next.status)) {
      next.completedAt ??= iso(at);
      next.notifyEventId = notificationEventId(next.upgradeId, next.status);
      next.nextPollAt = undefined;
      next.scheduleKey = row.rowKey;
    } else {
      const dueAt = nextPollAt(
        at,
        {
          status: next.status,
          unchangedPolls: next.unchangedPolls,
          failures: next.attempts,
          retryAfterMs,
          createdAt: Date.parse(next.createdAt),
        },
        this.options.config,
        this.random,
      );
      next.nextPollAt = iso(dueAt);
      next.scheduleKey = scheduleRowKey(dueAt, next.upgradeId);
    }
    return {
      write: next,
      result: { record: next, from: current.status, changed: transition.changed, becameFinal },
    };
  }

  private async afterCommit(
    committed: { record: UpgradeRecord; from: string; changed: boolean; becameFinal: boolean } | undefined,
    row: ScheduleRow,
  ): Promise<void> {
    if (!committed) {
      this.summary.skipped++;
      return;
    }
    const { record } = committed;
    const { telemetry, store } = this.options;
    if (committed.changed) {
      this.summary.changed++;
      telemetry.event('UpgradeStatusChanged', {
        upgradeId: record.upgradeId,
        customerId: record.customerId,
        from: committed.from,
        to: record.status,
        rawStatus: record.rawStatus,
      });
    }
    if (committed.becameFinal && isFinal(record.status)) {
      if (record.status === 'Stale') this.summary.stale++;
      else this.summary.completed++;
      telemetry.event(finalEventName(record.status), {
        upgradeId: record.upgradeId,
        customerId: record.customerId,
        status: record.status,
        rawStatus: record.rawStatus,
      });
    }
    if (isFinal(record.status)) await this.finish(record, row);
    else await store.moveScheduleRow(row, record.scheduleKey);
  }

  /** Final upgrade: notify (same eventId on every resend), record it, then leave the schedule. */
  private async finish(record: UpgradeRecord, row: ScheduleRow): Promise<void> {
    const { store, notify } = this.options;
    if (!isFinal(record.status)) return;
    if (!record.notifiedAt) {
      await notify(notificationFor({ ...record, status: record.status }));
      this.summary.notified++;
      await store.mutateUpgrade(record.upgradeId, (current) => {
        if (!current || current.notifiedAt) return { result: undefined };
        const at = iso(this.now());
        return {
          result: undefined,
          write: {
            ...current,
            notifiedAt: at,
            updatedAt: at,
            scheduleKey: '',
            leaseOwner: undefined,
            leaseUntil: undefined,
          },
        };
      });
    }
    await store.deleteScheduleRow(row.shard, row.rowKey);
  }
}

function stateOf(record: UpgradeRecord): TrackedState {
  return {
    status: record.status,
    rawStatus: record.rawStatus,
    rank: record.statusRank,
    observedAt: record.observedAt ? Date.parse(record.observedAt) : undefined,
  };
}

function finalEventName(status: FinalStatus): 'UpgradeCompleted' | 'UpgradeFailed' | 'UpgradeStale' {
  if (status === 'Completed') return 'UpgradeCompleted';
  if (status === 'Stale') return 'UpgradeStale';
  return 'UpgradeFailed';
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
