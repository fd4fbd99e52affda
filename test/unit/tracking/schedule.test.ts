import fc from 'fast-check';
import type { PollConfig } from '../../../shared/config';
import {
  backoffIntervalMs,
  firstPollAt,
  JITTER_RATIO,
  nextPollAt,
  nextPollDelayMs,
} from '../../../shared/tracking/schedule';

const config: PollConfig = {
  schedule: '0 */5 * * * *',
  concurrency: 8,
  ratePerSecond: 10,
  timeBudgetMs: 240_000,
  firstDelayMs: 30_000,
  minIntervalMs: 60_000,
  maxIntervalMs: 1_800_000,
  maxAgeMs: 30 * 86_400_000,
};
const noJitter = () => 0;

describe('poll schedule', () => {
  it('polls first after the configured delay, or now when asked for 0', () => {
    expect(firstPollAt(1_000, config)).toBe(31_000);
    expect(firstPollAt(1_000, { ...config, firstDelayMs: 0 })).toBe(1_000);
  });

  it('doubles from 1 minute to a 30 minute cap while nothing changes (InProgress)', () => {
    const intervals = [0, 1, 2, 3, 4, 5, 6, 10, 100].map((unchangedPolls) =>
      backoffIntervalMs({ status: 'InProgress', unchangedPolls, failures: 0 }, config),
    );
    expect(intervals).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000, 1_800_000, 1_800_000]);
  });

  it('backs Pending off one step ahead of InProgress, and failures count as steps', () => {
    expect(backoffIntervalMs({ status: 'Pending', unchangedPolls: 0, failures: 0 }, config)).toBe(120_000);
    expect(backoffIntervalMs({ status: 'InProgress', unchangedPolls: 1, failures: 2 }, config)).toBe(480_000);
  });

  it('property: the delay stays within [interval × (1 − jitter), interval] and never exceeds the cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 0, max: 50 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (unchangedPolls, failures, r) => {
          const input = { status: 'InProgress' as const, unchangedPolls, failures };
          const interval = backoffIntervalMs(input, config);
          const delay = nextPollDelayMs(input, config, () => r);
          expect(delay).toBeLessThanOrEqual(Math.min(interval, config.maxIntervalMs));
          expect(delay).toBeGreaterThanOrEqual(Math.floor(interval * (1 - JITTER_RATIO)));
        },
      ),
    );
  });

  it('property: Retry-After is a floor, even past the stale deadline', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 7_200_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 40 * 86_400_000 }),
        (unchangedPolls, retryAfterMs, r, age) => {
          const now = 50 * 86_400_000;
          const at = nextPollAt(
            now,
            { status: 'InProgress', unchangedPolls, failures: 0, retryAfterMs, createdAt: now - age },
            config,
            () => r,
          );
          expect(at).toBeGreaterThanOrEqual(now + retryAfterMs);
        },
      ),
    );
  });

  it('never schedules past the stale deadline without a Retry-After', () => {
    const createdAt = 0;
    const now = config.maxAgeMs - 10_000;
    const at = nextPollAt(now, { status: 'InProgress', unchangedPolls: 9, failures: 0, createdAt }, config, noJitter);
    expect(at).toBe(config.maxAgeMs);
  });

  it('spreads upgrades started together (jitter from the random source)', () => {
    const input = { status: 'InProgress' as const, unchangedPolls: 3, failures: 0 };
    expect(nextPollDelayMs(input, config, () => 0)).toBe(480_000);
    expect(nextPollDelayMs(input, config, () => 0.5)).toBe(432_000);
  });
});
