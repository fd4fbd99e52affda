import { randomUUID } from 'node:crypto';
import { asError } from '../errors';
import { parseNcrontab, type FleetConfig, type PollConfig } from '../config';
import type { CustomerDirectory, ProductUpgrades } from '../partner-center/types';
import type { Telemetry } from '../telemetry/telemetry';
import type { Notifier } from '../callbacks/events';
import { pollDueUpgrades, type PollRunSummary } from '../tracking/poll-run';
import { monotonicNow, RequestGate, type MonotonicClock } from '../tracking/request-gate';
import type { TrackingSender } from '../tracking/start-tracking';
import type { TrackingStore } from '../tracking/store';
import { runFleetScanStep, type ScanStepResult, type TriageCache } from './scan-run';
import type { FleetStore } from './store';
import { runWaveStep, type WaveStepResult } from './wave-run';

/**
 * One timer run of the background work, all of the app's bulk Partner Center traffic, in this order, with what each
 * leaves of the run's time budget: the poll run (tracking comes first: what is due must be seen), then the fleet
 * waves (an operator started them and waits on them, and their pace keeps them small: WAVE_CREATES_PER_MINUTE
 * customers a minute, two calls each), then the fleet scan (a refresh that resumes where it stopped, so it loses
 * nothing by waiting) — through ONE request gate, so all share one rate (POLL_RATE_PER_SECOND), one 429 pause and one
 * adaptive cut.
 *
 * Why this holds partner-wide: the timer trigger runs on one instance at a time however far the app scales out (the
 * host holds a blob lease for it), and nothing else sends bulk traffic — a scan asked for over HTTP is only recorded,
 * and the next timer run does it. Its limit: when the host loses the timer's lease, two runs can overlap for a moment,
 * each with its own gate (up to twice the rate until the 429 pause and the cut bring both back under the limit; the
 * poll claims and the scan's lease still keep them off each other's work).
 */

export interface BackgroundOptions {
  tracking: TrackingStore;
  partnerCenter: ProductUpgrades;
  directory: CustomerDirectory;
  fleet: FleetStore;
  config: { poll: PollConfig; fleet: Pick<FleetConfig, 'scanSchedule'> };
  telemetry: Telemetry;
  /** Final-status notifications (production: the upgrade-notifications queue). */
  notify: Notifier;
  /** Tracking messages (production: the upgrade-tracking queue): re-sends, and upgrades a scan finds. */
  track: TrackingSender;
  now?: () => number;
  clock?: MonotonicClock;
  gate?: RequestGate;
  signal?: AbortSignal;
  runId?: string;
  triage?: TriageCache;
}

export interface BackgroundRunSummary {
  poll: PollRunSummary;
  /** The wave step's result, or the error that stopped it (the polls' work is kept either way). */
  wave: WaveStepResult | { outcome: 'error'; error: string };
  /** The scan step's result, or the error that stopped it. */
  scan: ScanStepResult | { outcome: 'error'; error: string };
}

/** A step's result, or the error that stopped it (reported; the run goes on to the next step). */
async function step<T>(
  telemetry: Telemetry,
  runId: string,
  name: string,
  work: () => Promise<T>,
): Promise<T | { outcome: 'error'; error: string }> {
  try {
    return await work();
  } catch (error) {
    const failure = asError(error);
    telemetry.exception(failure, { runId, step: name });
    return { outcome: 'error', error: failure.message };
  }
}

export async function runBackground(options: BackgroundOptions): Promise<BackgroundRunSummary> {
  const { config, telemetry } = options;
  const clock = options.clock ?? monotonicNow;
  const started = clock();
  const gate = options.gate ?? new RequestGate(config.poll.ratePerSecond, clock);
  const runId = options.runId ?? randomUUID();
  const poll = await pollDueUpgrades({
    store: options.tracking,
    partnerCenter: options.partnerCenter,
    config: config.poll,
    telemetry,
    notify: options.notify,
    resend: options.track,
    now: options.now,
    clock,
    gate,
    signal: options.signal,
    runId,
  });
  const deadline = started + config.poll.timeBudgetMs;
  const accept = { store: options.tracking, send: options.track, now: options.now };
  const wave = await step(telemetry, runId, 'fleet-waves', () =>
    runWaveStep({
      store: options.fleet,
      upgrades: options.partnerCenter,
      accept,
      telemetry,
      gate,
      clock,
      deadline,
      now: options.now,
      runId,
      signal: options.signal,
    }),
  );
  const scan = await step(telemetry, runId, 'fleet-scan', () =>
    runFleetScanStep({
      store: options.fleet,
      directory: options.directory,
      upgrades: options.partnerCenter,
      accept,
      telemetry,
      schedule: parseNcrontab(config.fleet.scanSchedule),
      gate,
      clock,
      deadline,
      now: options.now,
      concurrency: config.poll.concurrency,
      runId,
      signal: options.signal,
      triage: options.triage,
    }),
  );
  return { poll, wave, scan };
}
