import { isSteppedClock, type RunningSimulator } from '../../../dev/simulator';
import type { PollConfig } from '../../../shared/config';
import {
  readWave,
  requestFleetScan,
  runBackground,
  type BackgroundRunSummary,
  type WaveView,
} from '../../../shared/fleet';
import type { TrackingMessage } from '../../../shared/tracking/records';
import { startTracking } from '../../../shared/tracking/start-tracking';
import { pollConfig, RecordingNotifier } from '../tracking/helpers';
import { scanStack, scanStep, type ScanStack } from './helpers';

/**
 * A world for waves: the fleet's scan stack, a tracking queue delivered at once to the real startTracking (what the
 * upgrade-tracking queue trigger does), a notifier, and one clock for the app that moves only when told — together
 * with the simulator's stepped clock, so upgrades progress between timer runs as they would over minutes.
 */
export interface WaveWorld extends ScanStack {
  notifier: RecordingNotifier;
  /** The upgrade-tracking queue: the message delivered to the real startTracking at once. */
  send: (message: TrackingMessage) => Promise<void>;
  now: () => number;
  /** Moves the app's clock and the simulator's on together. */
  advance(ms: number): void;
  poll: PollConfig;
}

export function waveWorld(
  label: string,
  sim: RunningSimulator,
  options: { poll?: Partial<PollConfig> } = {},
): WaveWorld {
  const stack = scanStack(label, sim);
  let current = Date.parse('2026-05-04T09:00:00.000Z');
  const now = () => current;
  const world: WaveWorld = {
    ...stack,
    notifier: new RecordingNotifier(),
    now,
    advance(ms) {
      current += ms;
      if (!isSteppedClock(sim.clock)) throw new Error('the wave world needs the simulator on a stepped clock');
      sim.clock.advance(ms);
    },
    poll: pollConfig({ ratePerSecond: 1000, concurrency: 8, timeBudgetMs: 120_000, ...options.poll }),
    async send(message) {
      await startTracking(message, {
        store: stack.tracking,
        firstPollDelayMs: 0,
        partnerCenter: stack.partnerCenter,
        now,
      });
    },
  };
  return world;
}

/** One timer run of the app's background work: polls, waves, scan. */
export function timerRun(
  world: WaveWorld,
  overrides: Partial<Parameters<typeof runBackground>[0]> = {},
): Promise<BackgroundRunSummary> {
  return runBackground({
    tracking: world.tracking,
    partnerCenter: world.partnerCenter,
    directory: world.partnerCenter,
    fleet: world.store,
    config: { poll: world.poll, fleet: { scanSchedule: '0 0 2 * * *' } },
    telemetry: world.telemetry,
    notify: world.notifier.notify,
    track: world.send,
    now: world.now,
    triage: world.triage,
    ...overrides,
  });
}

/** A scan of the whole fleet, to its end. */
export async function scanFleet(world: WaveWorld): Promise<void> {
  await requestFleetScan(world.store, world.now);
  for (let run = 0; run < 50; run++) {
    const result = await scanStep(world, {
      now: world.now,
      accept: { store: world.tracking, send: world.send, now: world.now },
    });
    if (result.outcome === 'worked' && result.state === 'completed') return;
  }
  throw new Error('the scan did not complete in 50 runs');
}

/** Timer runs `stepMs` apart until the wave ends; the view of the wave then, and the runs it took. */
export async function runWaveToEnd(
  world: WaveWorld,
  waveId: string,
  options: { stepMs?: number; maxRuns?: number } = {},
): Promise<{ view: WaveView; runs: number }> {
  const maxRuns = options.maxRuns ?? 60;
  for (let runs = 1; runs <= maxRuns; runs++) {
    await timerRun(world);
    const view = (await readWave(world.store, waveId))!;
    if (view.wave.state === 'completed' || view.wave.state === 'cancelled') return { view, runs };
    world.advance(options.stepMs ?? 10 * 60_000);
  }
  throw new Error(`wave ${waveId} did not end in ${maxRuns} timer runs`);
}
