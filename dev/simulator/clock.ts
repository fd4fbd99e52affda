/**
 * The simulator's notion of time. Upgrade progress, access-token lifetimes and refresh-token inactivity are all
 * computed lazily from `now()` (created-at + durations), never with timers, so a clock swap changes everything at once.
 */
export interface SimulatorClock {
  readonly kind: 'accelerated' | 'stepped';
  /** Simulated milliseconds per real millisecond (1 for a stepped clock). */
  readonly speed: number;
  /** Current simulated time, epoch milliseconds. */
  now(): number;
}

export interface SteppedClock extends SimulatorClock {
  readonly kind: 'stepped';
  /** Moves simulated time forward by `ms` (>= 0) and returns the new time. */
  advance(ms: number): number;
  /** Jumps to an absolute time (epoch ms, not earlier than now) and returns it. */
  set(epochMs: number): number;
}

/** Simulated time runs `factor`× faster than real time, starting at `start` (default: the real now). */
export function acceleratedClock(factor = 1, start: number | Date = Date.now()): SimulatorClock {
  if (!Number.isFinite(factor) || factor <= 0) throw new RangeError('clock factor must be a positive number');
  const simStart = typeof start === 'number' ? start : start.getTime();
  // performance.now() is monotonic: a wall-clock jump on the machine must not move simulated time backwards.
  const realStart = performance.now();
  return {
    kind: 'accelerated',
    speed: factor,
    now: () => Math.floor(simStart + (performance.now() - realStart) * factor),
  };
}

/** A clock that only moves when told to: deterministic tests. */
export function steppedClock(start: number | Date | string = Date.UTC(2026, 0, 1)): SteppedClock {
  let current = typeof start === 'number' ? start : new Date(start).getTime();
  if (!Number.isFinite(current)) throw new RangeError('invalid stepped clock start');
  return {
    kind: 'stepped',
    speed: 1,
    now: () => current,
    advance(ms: number): number {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError('advance(ms) needs a finite ms >= 0');
      current += ms;
      return current;
    },
    set(epochMs: number): number {
      if (!Number.isFinite(epochMs) || epochMs < current) throw new RangeError('a stepped clock never goes back');
      current = epochMs;
      return current;
    },
  };
}

export function isSteppedClock(clock: SimulatorClock): clock is SteppedClock {
  return clock.kind === 'stepped' && typeof (clock as Partial<SteppedClock>).advance === 'function';
}

/**
 * Partner Center's timestamp style: UTC, 7 fractional digits, `Z` (e.g. 2019-08-29T23:47:28.8524555Z).
 * JavaScript has milliseconds; the extra digits are zeros.
 */
export function formatPartnerCenterDate(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}
