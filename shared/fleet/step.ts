import { setMaxListeners } from 'node:events';
import type { CallOptions } from '../partner-center/types';
import { newLease, type Lease } from '../storage/lease';
import { asPartnerCenterError } from '../tracking/errors';
import { throttlePauseOf } from '../tracking/poll-run';
import { callThroughGate, type GatedOutcome, type MonotonicClock, type RequestGate } from '../tracking/request-gate';

/**
 * What the background steps of a timer run that work on a row of the `Fleet` table (the scan, a wave) share: their
 * window in the run (the deadline, the lease that keeps other runs off their row) and their Partner Center calls
 * through the run's one gate.
 */

/** How long past the run's deadline a step's lease keeps other runs off its row (a straggling call, a last write). */
export const LEASE_MARGIN_MS = 30_000;

/** Why any step stops whatever it does: the host shuts down, or the run's deadline passed. */
export type WindowStop = 'aborted' | 'time-budget';

/**
 * A step's time in the run: until the deadline (on the run's monotonic clock), or until the host shuts down; and why
 * the step stops, once it does (the first reason recorded stands: a later failure does not hide the first).
 */
export class StepWindow<Reason extends string = WindowStop> {
  private reason: Reason | WindowStop | undefined;

  /** Ends a wait for a rate slot: at the deadline, or when the host shuts down. */
  readonly slotSignal: AbortSignal;
  /** The host shutting down: a call in flight is aborted. */
  readonly signal: AbortSignal | undefined;

  constructor(
    private readonly options: {
      clock: MonotonicClock;
      deadline: number;
      signal?: AbortSignal;
      /** Wall clock, for the lease. */
      now: () => number;
      runId: string;
      /** Callers that may wait for a slot at once. */
      waiters: number;
    },
  ) {
    // Without this, callers queued at the gate would each wait for their slot past the deadline (slots are handed out
    // ahead), only to find the run over.
    this.signal = options.signal;
    const atDeadline = AbortSignal.timeout(Math.max(0, Math.ceil(options.deadline - options.clock())));
    this.slotSignal = options.signal ? AbortSignal.any([options.signal, atDeadline]) : atDeadline;
    setMaxListeners(options.waiters + 8, this.slotSignal);
  }

  /** `aborted` (the host shuts down) or `time-budget` (the deadline passed), else undefined. */
  over(): WindowStop | undefined {
    if (this.options.signal?.aborted) return 'aborted';
    if (this.options.clock() >= this.options.deadline) return 'time-budget';
    return undefined;
  }

  /** Why the step stops, if it does: the reason recorded, else the window's end (then recorded). */
  stopped(): Reason | WindowStop | undefined {
    const over = this.over();
    if (over) this.reason ??= over;
    return this.reason;
  }

  /**
   * Why a wait for a rate slot (`slotSignal`) ended — the host shutting down, else the deadline — recorded (unless a
   * reason stands already) and returned.
   */
  slotWaitEnded(): WindowStop {
    const reason = this.over() ?? 'time-budget';
    this.stop(reason);
    return reason;
  }

  /** Records why the step stops, unless a reason stands already; returns the one that stands. */
  stop(reason: Reason | WindowStop): Reason | WindowStop {
    this.reason ??= reason;
    return this.reason;
  }

  /** The reason recorded, without looking at the clock. */
  get stopReason(): Reason | WindowStop | undefined {
    return this.reason;
  }

  /** The step's lease on its row: until the deadline (in wall time) and a margin. */
  lease(): Lease {
    const remaining = Math.max(0, this.options.deadline - this.options.clock());
    return newLease(this.options.runId, this.options.now(), remaining + LEASE_MARGIN_MS);
  }
}

/** A step as its Partner Center calls see it. */
export interface StepCalls {
  /** Sent as MS-CorrelationId: the scan's or the wave's id. */
  correlationId: string;
  /** Why the step stops, if it does (`window.stopped()`, checked before every attempt and every 429 retry). */
  window: StepWindow<string>;
  /**
   * Records why the step stops — `time-budget` or `aborted` (its wait for a slot ended), `auth` (with the error), or
   * what `window.stopped()` said — and returns what the call throws.
   */
  halt(reason: string, error?: unknown): Error;
  onCall?(): void;
  onThrottled?(): void;
}

/**
 * One Partner Center call of a background step through the timer run's one gate: a 429 pauses every caller of the
 * gate (its Retry-After) and is tried again until the step stops; a refused credential stops the step (every call
 * would fail alike: RefreshTokenInvalid is alerted); any other failure is the call's, thrown as it is.
 */
export async function callInStep<T>(
  gate: RequestGate,
  step: StepCalls,
  send: (options: CallOptions) => Promise<T>,
): Promise<T> {
  let halted: Error | undefined;
  let outcome: GatedOutcome<T>;
  try {
    outcome = await callThroughGate(
      gate,
      () => {
        const stop = step.window.stopped();
        if (stop) throw (halted = step.halt(stop));
        step.onCall?.();
        return send({ correlationId: step.correlationId, abortSignal: step.window.signal, throttling: 'return' });
      },
      {
        signal: step.window.slotSignal,
        maxThrottleRetries: Number.POSITIVE_INFINITY,
        throttlePauseMs: throttlePauseOf,
        stopped: () => step.window.stopped() !== undefined,
        onThrottled: () => step.onThrottled?.(),
      },
    );
  } catch {
    // The wait for a slot ended: the host is shutting down, or the run's time is up.
    throw step.halt(step.window.slotWaitEnded());
  }
  if (outcome.ok) return outcome.value;
  const { error } = outcome;
  if (error === halted) throw error;
  if (asPartnerCenterError(error)?.category === 'auth') throw step.halt('auth', error);
  const stop = step.window.stopped();
  if (stop && throttlePauseOf(error) !== undefined) throw step.halt(stop);
  throw error;
}
