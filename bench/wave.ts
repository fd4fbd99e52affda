import type { RunningAzurite } from '../dev/azurite';
import { generateFleetScenario, startSimulator, steppedClock } from '../dev/simulator';
import { stackSettings } from '../dev/stack';
import { createWave, readWave, requestFleetScan, runBackground, type WaveView } from '../shared/fleet';
import { backgroundOptions } from '../shared/services';
import { countingStack } from './stack';
import { Repeats, type Figure } from './stats';

export interface WaveCase {
  /** Eligible customers in the wave (at most 200). */
  members: number;
  /** The wave's pace: customers started per minute. */
  pace: number;
  /** The simulator's per-partner limit, requests/s (token bucket, burst = the rate). */
  limitPerSecond: number;
  /** POLL_RATE_PER_SECOND. */
  configuredRate: number;
  /** Simulator latency on eligibility, create and status: base + uniform jitter in [0, jitterMs]. */
  latencyMs: number;
  jitterMs: number;
  /** The timer's period between the runs that follow the upgrades (simulated; they take no real time). */
  tickMinutes: number;
  repeats: number;
}

export interface WaveResult {
  case: WaveCase;
  figures: Record<string, Figure>;
  lastRun: { progress: WaveView['progress']; timerRuns: number; requestsByRoute: Record<string, number> };
}

const MINUTE = 60_000;

/**
 * A wave of eligible customers end to end, with the production wiring (`stackServices`, the timer run's
 * `runBackground`, the tracking's own startTracking code as the queue trigger runs it): the fleet scanned first (not
 * measured), then the wave created and the timer runs — the first starts every member at the wave's pace, in real
 * time, against the simulator's latency and rate limit; the next ones, `tickMinutes` apart on the simulator's stepped
 * clock, follow the upgrades (1 to 65 simulated minutes each) until the wave ends. Measured: the time to start every
 * member and the creates per minute that makes against the pace, Partner Center calls per member (the re-check and
 * the create; then the status polls until the end), 429s, table operations per member started, and the timer runs
 * and simulated time until the wave ended.
 */
export async function benchWave(
  azurite: RunningAzurite,
  spec: WaveCase,
  log: (line: string) => void,
): Promise<WaveResult> {
  const repeats = new Repeats();
  let lastRun: WaveResult['lastRun'] | undefined;
  for (let run = 0; run < spec.repeats; run++) {
    const clock = steppedClock(Date.UTC(2026, 2, 2, 9));
    const sim = await startSimulator({
      port: 0,
      clock,
      scenario: generateFleetScenario({
        customers: spec.members,
        seed: 300 + run,
        mix: { eligible: 1 },
        pendingSeconds: { min: 30, max: 300 },
        inProgressSeconds: { min: 60, max: 3600 },
      }),
    });
    try {
      const settings = stackSettings(
        { storage: azurite.connectionString, partnerCenter: sim, tablePrefix: `wave${run}` },
        { POLL_RATE_PER_SECOND: String(spec.configuredRate), POLL_CONCURRENCY: '8' },
      );
      const now = () => clock.now();
      const { counter, services, send } = countingStack(settings, now);
      const { config } = services;
      const timerRun = () =>
        runBackground({
          ...backgroundOptions(services),
          notify: async () => {},
          track: send,
          now,
          // No usage records kept between the scan's timer runs: each lists them again, as a new instance does.
          triage: undefined,
        });
      await requestFleetScan(services.fleet, now);
      while ((await services.fleet.readSlot())?.scan?.state !== 'completed') await timerRun();

      for (const route of ['eligibility', 'create', 'status'] as const) {
        sim.setFaults(route, { latencyMs: spec.latencyMs, latencyJitterMs: spec.jitterMs });
      }
      sim.setRateLimits({ perPartner: { ratePerSecond: spec.limitPerSecond, burst: spec.limitPerSecond } });
      sim.state.resetCounters();
      counter.reset();
      const created = await createWave(
        services.fleet,
        { members: { kind: 'select', state: 'eligible', limit: spec.members }, createsPerMinute: spec.pace },
        { createsPerMinute: config.fleet.waveCreatesPerMinute },
        { now },
      );
      if (created.outcome !== 'created') throw new Error(`the wave was not created (${created.outcome})`);
      const waveId = created.wave.waveId;
      const started = performance.now();
      await timerRun();
      const startSeconds = (performance.now() - started) / 1000;
      const afterStart = (await readWave(services.fleet, waveId))!;
      const startCounters = sim.state.counters();
      const startOps = counter.snapshot().total;
      const startedMembers = afterStart.progress.created;
      let view = afterStart;
      let timerRuns = 1;
      while (view.wave.state !== 'completed' && timerRuns < 2_000) {
        clock.advance(spec.tickMinutes * MINUTE);
        await timerRun();
        timerRuns++;
        view = (await readWave(services.fleet, waveId))!;
      }
      const endSeconds = (performance.now() - started) / 1000;
      const counters = sim.state.counters();
      const requests = (route: string, snapshot = counters) => snapshot.requests[route]?.total ?? 0;
      const firstCalls = requests('eligibility', startCounters) + requests('create', startCounters);
      const createsPerMinute = (requests('create', startCounters) / startSeconds) * 60;
      repeats.add({
        members: view.progress.members,
        started: startedMembers,
        startSeconds,
        createsPerMinute,
        createsPerMinuteVsPace: createsPerMinute / spec.pace,
        startCallsPerMember: firstCalls / Math.max(1, startedMembers),
        statusCallsPerMember: requests('status') / Math.max(1, view.progress.members),
        throttled429: counters.throttled.total,
        tableOpsPerMemberStarted: startOps / Math.max(1, startedMembers),
        timerRunsToEnd: timerRuns,
        simulatedMinutesToEnd: (Date.parse(view.wave.finishedAt ?? '') - Date.parse(view.wave.createdAt)) / MINUTE,
        realSecondsToEnd: endSeconds,
        completed: view.progress.completed,
        failed: view.progress.failed,
      });
      lastRun = {
        progress: view.progress,
        timerRuns,
        requestsByRoute: Object.fromEntries(Object.entries(counters.requests).map(([route, r]) => [route, r.total])),
      };
      log(
        `  wave run ${run + 1}/${spec.repeats}: ${startedMembers} of ${spec.members} started in ` +
          `${startSeconds.toFixed(1)} s (${createsPerMinute.toFixed(0)} creates/min, pace ${spec.pace}), ` +
          `${(firstCalls / Math.max(1, startedMembers)).toFixed(2)} calls per member to start it, ` +
          `${counters.throttled.total} 429s; ended after ${timerRuns} timer runs, ${endSeconds.toFixed(1)} s`,
      );
    } finally {
      await sim.close();
    }
  }
  return { case: spec, figures: repeats.figures(), lastRun: lastRun! };
}
