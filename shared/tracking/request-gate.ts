import { setTimeout as delay } from 'node:timers/promises';

/**
 * The shared door to Partner Center of a timer run's background work (the poll run, then the fleet scan): a request
 * rate (evenly spaced slots, a token bucket with a burst of one) and a shared pause. When any call is throttled, the pause holds back every caller, not only the one that saw
 * the 429, and the rate is cut so the run comes back under the limit instead of tripping
 * it again. Written by hand because the Azure SDK pipeline throttling policy acts per request, not across a whole
 * run of concurrent calls, and never lowers a rate.
 */

export type MonotonicClock = () => number;
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const monotonicNow: MonotonicClock = () => performance.now();

/** The platform's timer; an abort rejects with the signal's reason (what the run was stopped with). */
export const sleep: Sleep = (ms, signal) =>
  delay(Math.max(0, ms), undefined, { signal }).catch((error: unknown) => {
    signal?.throwIfAborted();
    throw error;
  });

/**
 * How the gate adapts its rate to 429s — multiplicative decrease, additive increase, as TCP does with congestion.
 * Partner Center publishes no limits and moves them, so the configured rate is a ceiling to climb back to, not a
 * rate the service promises to accept.
 */
export interface AdaptiveRateOptions {
  /** The rate is multiplied by this on a 429 — once per episode: 429s of requests let through before the cut do not cut again. */
  decreaseFactor?: number;
  /** Seconds the linear climb from zero to the configured rate takes while no 429 arrives (it starts when the pause ends). */
  recoverySeconds?: number;
  /** Floor of the rate, requests/s (the configured rate if that is lower). */
  minRatePerSecond?: number;
}

export const DEFAULT_ADAPTIVE_RATE: Required<AdaptiveRateOptions> = {
  decreaseFactor: 0.5,
  recoverySeconds: 20,
  minRatePerSecond: 0.1,
};

export class RequestGate {
  private readonly maxRate: number;
  private readonly minRate: number;
  private readonly decreaseFactor: number;
  /** Requests/s gained per second of climbing. */
  private readonly climbPerSecond: number;
  /** The rate is `rateFloor` at `climbFrom`, rising by `climbPerSecond` after it, up to `maxRate`. */
  private rateFloor: number;
  private climbFrom = -Infinity;
  private lastCutAt = -Infinity;
  private cutCount = 0;
  private nextSlotAt = -Infinity;
  private pausedUntilAt = -Infinity;

  constructor(
    ratePerSecond: number,
    private readonly clock: MonotonicClock = monotonicNow,
    private readonly wait: Sleep = sleep,
    adaptive: AdaptiveRateOptions = {},
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be positive');
    const options = { ...DEFAULT_ADAPTIVE_RATE, ...adaptive };
    if (!(options.decreaseFactor > 0 && options.decreaseFactor <= 1)) {
      throw new RangeError('decreaseFactor must be in (0, 1]');
    }
    if (!(options.recoverySeconds > 0)) throw new RangeError('recoverySeconds must be positive');
    this.maxRate = ratePerSecond;
    this.minRate = Math.min(ratePerSecond, Math.max(Number.MIN_VALUE, options.minRatePerSecond));
    this.decreaseFactor = options.decreaseFactor;
    this.climbPerSecond = ratePerSecond / options.recoverySeconds;
    this.rateFloor = ratePerSecond;
  }

  /** The rate in force at `at` (default now), requests/s. */
  ratePerSecond(at: number = this.clock()): number {
    const climbed = this.rateFloor + (this.climbPerSecond * Math.max(0, at - this.climbFrom)) / 1000;
    return Math.min(this.maxRate, Number.isFinite(climbed) ? climbed : this.maxRate);
  }

  /** How many times a 429 has cut the rate. */
  get rateCuts(): number {
    return this.cutCount;
  }

  /** Holds every caller back for `ms` from now (extends, never shortens, a pause in force). */
  pauseFor(ms: number): void {
    const until = this.clock() + Math.max(0, ms);
    if (until > this.pausedUntilAt) this.pausedUntilAt = until;
    if (until > this.nextSlotAt) this.nextSlotAt = until;
  }

  get pausedUntil(): number {
    return this.pausedUntilAt;
  }

  /**
   * A call was answered 429: pause everyone for `retryAfterMs`, and cut the rate unless the call was let through
   * (`sentAt`, the value `acquire` resolved with) before the last cut — those 429s belong to the episode already
   * answered. The climb back starts when the pause ends.
   */
  throttled(retryAfterMs: number, sentAt: number = this.clock()): void {
    const now = this.clock();
    this.pauseFor(retryAfterMs);
    if (sentAt < this.lastCutAt) return;
    this.rateFloor = Math.max(this.minRate, this.ratePerSecond(now) * this.decreaseFactor);
    this.climbFrom = this.pausedUntilAt;
    this.lastCutAt = now;
    this.cutCount++;
  }

  /**
   * Resolves when the caller may send one request, with the time (on the gate's clock) it was let through — pass it
   * to `throttled` if the call is answered 429. Rejects when the signal aborts.
   */
  async acquire(signal?: AbortSignal): Promise<number> {
    for (;;) {
      const now = this.clock();
      const start = Math.max(now, this.nextSlotAt, this.pausedUntilAt);
      this.nextSlotAt = start + 1000 / this.ratePerSecond(start);
      if (start > now) await this.wait(start - now, signal);
      // A pause set while we slept invalidates the slot we reserved: take a new one after it.
      const at = this.clock();
      if (at >= this.pausedUntilAt) return at;
    }
  }
}

/** How a call sent through the gate ended: its value, or the error it failed with (after any 429 retries). */
export type GatedOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface GatedCallOptions {
  signal?: AbortSignal;
  /** 429s retried, each after the shared pause; the next one is the outcome. */
  maxThrottleRetries: number;
  /** The pause a failure asks of everyone when it is a 429 (its Retry-After); undefined for any other failure. */
  throttlePauseMs(error: unknown): number | undefined;
  /** The slot of the first attempt when the caller took it already (the poll run takes it before its claim). */
  firstSlot?: number;
  /** Asked before each retry: true gives up, and the last 429 is the outcome. */
  stopped?(): boolean;
  /** Before each attempt, and on each 429 (counting). */
  onAttempt?(): void;
  onThrottled?(): void;
}

/**
 * One call through the gate, for every caller that shares it (the poll run, the fleet scan): a slot per attempt, and
 * a 429 pauses and slows every caller of the gate (`throttled`) before the call is tried again. The call's own
 * failure is returned, not thrown; only the wait for a slot throws (the signal aborted).
 */
export async function callThroughGate<T>(
  gate: RequestGate,
  call: () => Promise<T>,
  options: GatedCallOptions,
): Promise<GatedOutcome<T>> {
  let sentAt = options.firstSlot ?? (await gate.acquire(options.signal));
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) sentAt = await gate.acquire(options.signal);
    options.onAttempt?.();
    try {
      return { ok: true, value: await call() };
    } catch (error) {
      const pauseMs = options.throttlePauseMs(error);
      if (pauseMs === undefined) return { ok: false, error };
      options.onThrottled?.();
      gate.throttled(pauseMs, sentAt);
      if (attempt >= options.maxThrottleRetries || options.stopped?.()) return { ok: false, error };
    }
  }
}
