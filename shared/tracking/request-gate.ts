/**
 * The poll run's shared door to Partner Center: a request rate (token bucket with a burst of one, i.e. evenly
 * spaced slots) and a shared pause. When any call is throttled, `pauseUntil` holds back every caller, not only the
 * one that saw the 429 (reliability checklist K2). Written by hand because the Azure SDK pipeline throttling policy
 * acts per request, not across a whole run of concurrent calls.
 */

export type MonotonicClock = () => number;
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const monotonicNow: MonotonicClock = () => performance.now();

export const sleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class RequestGate {
  private readonly spacingMs: number;
  private nextSlotAt = -Infinity;
  private pausedUntilAt = -Infinity;

  constructor(
    ratePerSecond: number,
    private readonly clock: MonotonicClock = monotonicNow,
    private readonly wait: Sleep = sleep,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be positive');
    this.spacingMs = 1000 / ratePerSecond;
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

  /** Resolves when the caller may send one request; rejects when the signal aborts. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.clock();
      const start = Math.max(now, this.nextSlotAt, this.pausedUntilAt);
      this.nextSlotAt = start + this.spacingMs;
      if (start > now) await this.wait(start - now, signal);
      // A pause set while we slept invalidates the slot we reserved: take a new one after it.
      if (this.clock() >= this.pausedUntilAt) return;
    }
  }
}
