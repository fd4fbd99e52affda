import type { PollConfig } from '../config';
import type { UpgradeStatus } from './state';

/**
 * When to poll an upgrade next. Pure: the caller passes the clock reading and a random source, so tests pin it.
 *
 * - first poll: `firstDelayMs` (POLL_FIRST_DELAY_SECONDS) after tracking starts;
 * - then exponential backoff from `minIntervalMs`, doubling per poll that saw no change (and per failure), capped at
 *   `maxIntervalMs`; Pending upgrades back off one step ahead of InProgress ones (they change slowly at first);
 * - jitter takes up to `JITTER_RATIO` off the interval, so upgrades started together spread out and the cap holds;
 * - a Retry-After is a floor: the next poll is never before it;
 * - never later than the upgrade's stale deadline, so Stale is declared on time.
 */

export type RandomSource = () => number;

export const JITTER_RATIO = 0.2;

export type ScheduleConfig = Pick<PollConfig, 'firstDelayMs' | 'minIntervalMs' | 'maxIntervalMs' | 'maxAgeMs'>;

export function firstPollAt(trackedAt: number, config: Pick<PollConfig, 'firstDelayMs'>): number {
  return trackedAt + Math.max(0, config.firstDelayMs);
}

export interface BackoffInput {
  status: UpgradeStatus;
  /** Consecutive polls that observed no change. */
  unchangedPolls: number;
  /** Consecutive failed polls. */
  failures: number;
  /** Partner Center's Retry-After, when the last call was throttled. */
  retryAfterMs?: number;
}

export function backoffIntervalMs(input: BackoffInput, config: ScheduleConfig): number {
  const steps = Math.max(0, input.unchangedPolls) + Math.max(0, input.failures) + (input.status === 'Pending' ? 1 : 0);
  // 2^steps overflows to Infinity past ~1000 steps; the cap makes that harmless.
  return Math.min(config.maxIntervalMs, config.minIntervalMs * 2 ** Math.min(steps, 60));
}

export function nextPollDelayMs(input: BackoffInput, config: ScheduleConfig, random: RandomSource): number {
  const interval = backoffIntervalMs(input, config);
  const r = Math.min(Math.max(random(), 0), 1);
  const jittered = Math.round(interval * (1 - JITTER_RATIO * r));
  return Math.max(jittered, input.retryAfterMs ?? 0);
}

export function nextPollAt(
  now: number,
  input: BackoffInput & { createdAt: number },
  config: ScheduleConfig,
  random: RandomSource,
): number {
  const staleAt = input.createdAt + config.maxAgeMs;
  const next = now + nextPollDelayMs(input, config, random);
  // A Retry-After still wins over the stale deadline: we must not call before it.
  return Math.max(Math.min(next, staleAt), now + (input.retryAfterMs ?? 0));
}
