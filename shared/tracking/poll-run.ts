import { randomUUID } from 'node:crypto';
import { asError } from '../errors';
import type { PollConfig } from '../config';
import type { ProductUpgrades } from '../partner-center/types';
import { heldByOther, newLease, type Lease } from '../storage/lease';
import type { Telemetry } from '../telemetry/telemetry';
import { asPartnerCenterError, describeError } from './errors';
import { mergeSorted } from './merge-sorted';
import type { Notifier } from '../callbacks/events';
import { commitOf, planPoll, type PollOutcome, type PollPlan } from './poll-plan';
import type { PollRunRecord, PollState, ScheduleEntry } from './records';
import { callThroughGate, monotonicNow, RequestGate, type MonotonicClock } from './request-gate';
import type { RandomSource } from './schedule';
import type { TrackingSender } from './start-tracking';
import { isFinal, type FinalStatus } from './state';
import type { TrackingStore } from './store';

/** Pause after a 429 that carried no Retry-After. */
export const DEFAULT_THROTTLE_PAUSE_MS = 30_000;
/** The pause a Partner Center failure asks of every call sharing the gate: its Retry-After when it is a 429. */
export function throttlePauseOf(error: unknown): number | undefined {
  const pc = asPartnerCenterError(error);
  return pc?.category === 'throttled' ? (pc.retryAfterMs ?? DEFAULT_THROTTLE_PAUSE_MS) : undefined;
}

/** Times one upgrade is retried within a run after a 429 (each after the shared pause). */
export const MAX_THROTTLE_RETRIES = 3;
/**
 * How long an accepted upgrade may wait for startTracking before the run re-sends its tracking message: well past
 * the queue's own retries (host.json: 5 deliveries, 30 s visibility timeout apart, then the poison queue).
 */
export const RESEND_AFTER_MS = 15 * 60_000;
/** The re-sends of one message back off, doubling from RESEND_AFTER_MS up to this. */
export const MAX_RESEND_INTERVAL_MS = 24 * 3_600_000;

export interface PollRunOptions {
  store: TrackingStore;
  partnerCenter: ProductUpgrades;
  config: PollConfig;
  telemetry: Telemetry;
  /** Sends final-status notifications (production: `queueNotifier(upgrade-notifications queue)`). */
  notify: Notifier;
  /** Re-sends the tracking message of an upgrade whose tracking never started (production: `queueTracker(...)`). */
  resend: TrackingSender;
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

/**
 * One poll run: reads what is due from the schedule rows only (one RowKey range query per shard, merged oldest
 * first), and for each due upgrade, with bounded concurrency through a shared rate gate:
 * 1. claims its schedule row (a lease merged onto it, conditional on the ETag the query returned: of two overlapping
 *    runs one claims, the other skips; a row another live run holds is skipped without a write);
 * 2. asks Partner Center for the status (not for an upgrade already final: only its notification was left);
 * 3. plans the outcome (`planPoll`, pure: state machine, history, next poll time or finish);
 * 4. applies it: a final status's notification first (its event id is fixed, so a resend is the same event), then
 *    one transaction — the schedule row moved (or deleted, or kept when the notification failed), the upgrade row
 *    merged, a history row added. Two table operations per poll, whatever the poll found.
 * A crash between the claim and the commit leaves the claimed row, polled again when its lease is over. Alongside,
 * the run re-sends the tracking message of upgrades accepted long ago whose tracking never started (`resendStuck`).
 */
export async function pollDueUpgrades(options: PollRunOptions): Promise<PollRunSummary> {
  const run = new PollRun(options);
  return run.execute();
}

function byRowKey(a: ScheduleEntry, b: ScheduleEntry): number {
  return a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0;
}

class PollRun {
  private readonly now: () => number;
  private readonly clock: MonotonicClock;
  private readonly random: RandomSource;
  private readonly gate: RequestGate;
  private readonly runId: string;
  private readonly lease: Lease;
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
    this.lease = newLease(this.runId, this.now(), options.leaseMs ?? options.config.timeBudgetMs + 30_000);
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

  private failed(error: unknown, upgradeId?: string): void {
    this.summary.errors++;
    const properties = { runId: this.runId, ...(upgradeId ? { upgradeId } : {}) };
    this.options.telemetry.exception(error instanceof Error ? error : new Error(describeError(error).text), properties);
  }

  async execute(): Promise<PollRunSummary> {
    const { store, telemetry, config, signal } = this.options;
    const etag = await store.startPollRun(this.summary);
    let outstanding = 0;
    const at = this.now();
    // Due rows of all shards merged oldest first (each shard's query paged lazily), so a run cut short by its budget
    // has served the longest-waiting upgrades, whichever shard they are in.
    const due = mergeSorted(
      store.shards.map((shard) => store.dueEntries(shard, at, signal)),
      byRowKey,
    );
    const worker = async () => {
      for (;;) {
        if (this.stopped()) return;
        let next: IteratorResult<ScheduleEntry>;
        try {
          next = await due.next();
        } catch (error) {
          // The due query itself failed (storage unavailable): nothing more can be read this run.
          if (!signal?.aborted) {
            this.stopReason ??= 'storage-error';
            this.failed(error);
          }
          return;
        }
        if (next.done) return;
        this.summary.due++;
        if (this.stopped()) {
          outstanding++;
          return;
        }
        try {
          await this.poll(next.value);
        } catch (error) {
          if (!signal?.aborted) this.failed(error, next.value.state.upgradeId);
        }
      }
    };
    try {
      await Promise.all([
        ...Array.from({ length: Math.max(1, Math.floor(config.concurrency)) }, worker),
        this.resendStuck(at),
      ]);
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

  /** One due upgrade: claim, ask (unless final already), plan, apply. */
  private async poll(entry: ScheduleEntry): Promise<void> {
    const { store, config } = this.options;
    if (heldByOther(entry.lease, this.runId, this.now())) {
      this.summary.skipped++;
      return;
    }
    const final = isFinal(entry.state.status);
    // The rate slot before the claim: a claim this run then could not use (its budget spent while it waited) would
    // keep the upgrade from the next run until the lease ends.
    const slot = final ? undefined : await this.gate.acquire(this.options.signal);
    if (slot !== undefined && this.stopped()) return;
    const claim = await store.claim(entry, this.lease);
    if (claim === undefined) {
      this.summary.skipped++; // another run claimed or finished it first
      return;
    }
    const outcome: PollOutcome =
      slot === undefined ? { kind: 'final-already' } : await this.askStatus(entry.state, slot);
    await this.apply(entry, claim, planPoll(entry.state, outcome, this.now(), config, this.random));
  }

  /** The status call, through the rate gate; a 429 pauses the whole run and the call is retried up to 3 times. */
  private async askStatus(state: PollState, firstSlot: number): Promise<PollOutcome> {
    const { partnerCenter, signal } = this.options;
    const outcome = await callThroughGate(
      this.gate,
      () =>
        partnerCenter.getUpgradeStatus(
          { upgradeId: state.upgradeId, customerId: state.customerId, productFamily: state.productFamily },
          // A 429 comes straight back: the gate pauses and slows every call of the run, not just this one.
          { correlationId: this.runId, abortSignal: signal, throttling: 'return' },
        ),
      {
        signal,
        firstSlot,
        maxThrottleRetries: MAX_THROTTLE_RETRIES,
        throttlePauseMs: throttlePauseOf,
        stopped: () => this.stopped() !== undefined,
        onAttempt: () => this.summary.polled++,
        onThrottled: () => this.summary.throttled++,
      },
    );
    if (outcome.ok) return { kind: 'observed', result: outcome.value };
    const { error } = outcome;
    const retryAfterMs = throttlePauseOf(error);
    if (retryAfterMs === undefined) {
      this.summary.errors++;
      // Credentials are broken for every upgrade alike: stop calling until an operator fixes them.
      if (asPartnerCenterError(error)?.category === 'auth') this.stopReason ??= 'auth';
    }
    const described = describeError(error);
    return { kind: 'failed', category: described.category, code: described.code, error: described.text, retryAfterMs };
  }

  /**
   * A final status's notification first, then the one transaction. A notification that could not be sent leaves the
   * row in the schedule with the final state (due at once): the next run sends it, without a Partner Center call.
   */
  private async apply(entry: ScheduleEntry, claim: string, plan: PollPlan): Promise<void> {
    const { store, notify } = this.options;
    let notifiedAt: number | undefined;
    let notifyError: Error | undefined;
    if (plan.kind === 'finish') {
      try {
        await notify(plan.notification);
        notifiedAt = this.now();
        this.summary.notified++;
      } catch (error) {
        notifyError = asError(error);
      }
    }
    if (!(await store.commitPoll(entry, claim, commitOf(plan, entry.rowKey, notifiedAt)))) {
      this.summary.skipped++; // another run committed this row first (our claim had outlived its lease)
      return;
    }
    this.report(plan);
    if (notifyError) throw notifyError;
  }

  private report(plan: PollPlan): void {
    const { telemetry } = this.options;
    const { upgradeId, customerId, status, rawStatus } = plan.state;
    if (plan.statusChanged) {
      this.summary.changed++;
      telemetry.event('UpgradeStatusChanged', { upgradeId, customerId, from: plan.from, to: status, rawStatus });
    }
    if (plan.becameFinal && isFinal(status)) {
      if (status === 'Stale') this.summary.stale++;
      else this.summary.completed++;
      const { waveId, createdAt, completedAt } = plan.state;
      // Time to the end, from when the app recorded the upgrade (per wave: p50/p95 in the workbook).
      const durationMs = Date.parse(completedAt ?? '') - Date.parse(createdAt);
      telemetry.event(
        finalEventName(status),
        { upgradeId, customerId, status, rawStatus, ...(waveId ? { waveId } : {}) },
        Number.isFinite(durationMs) ? { durationMs } : {},
      );
    }
  }

  /**
   * Upgrades accepted at least RESEND_AFTER_MS ago whose tracking never started (their tracking message was lost, or
   * poisoned): the message is sent again, then the re-send recorded, backing off (doubling, capped) for the next one.
   */
  private async resendStuck(at: number): Promise<void> {
    const { store, resend, signal } = this.options;
    try {
      for (const shard of store.shards) {
        for await (const entry of store.acceptedEntries(shard, at - RESEND_AFTER_MS, signal)) {
          if (this.stopped()) return;
          if (entry.resendAfter > at) continue;
          try {
            await resend(entry.message);
            const interval = Math.min(MAX_RESEND_INTERVAL_MS, RESEND_AFTER_MS * 2 ** Math.min(entry.resends + 1, 20));
            if (await store.recordResend(entry, at + interval)) this.summary.recovered++;
          } catch (error) {
            this.failed(error, entry.message.upgradeId);
          }
        }
      }
    } catch (error) {
      if (!signal?.aborted) this.failed(error);
    }
  }
}

function finalEventName(status: FinalStatus): 'UpgradeCompleted' | 'UpgradeFailed' | 'UpgradeStale' {
  if (status === 'Completed') return 'UpgradeCompleted';
  if (status === 'Stale') return 'UpgradeStale';
  return 'UpgradeFailed';
}
