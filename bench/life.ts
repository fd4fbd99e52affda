import type { RunningAzurite } from '../dev/azurite';
import { startSimulator, steppedClock, type Scenario } from '../dev/simulator';
import { noTelemetry } from '../shared/telemetry/telemetry';
import { acceptUpgrade, pollDueUpgrades } from '../shared/tracking';
import { createPrng } from '../dev/simulator/prng';
import { simulatorToken, stackSettings } from '../dev/stack';
import { countingStack } from './stack';
import { percentile, mean, Repeats, type Figure } from './stats';

export interface LifeCase {
  upgrades: number;
  repeats: number;
  /** The timer's period (POLL_SCHEDULE every 5 minutes). */
  tickMinutes: number;
  /** Upgrade durations, log-uniform between these (simulated time). */
  minMinutes: number;
  maxHours: number;
}

export interface LifeResult {
  case: LifeCase;
  figures: Record<string, Figure>;
  /** Per-upgrade distribution of the last repeat. */
  lastRun: {
    callsPerUpgrade: { p50: number; p90: number; max: number };
    fixedCallsPerUpgrade: { p50: number; p90: number; max: number };
    detectionDelayMinutes: { p50: number; p90: number; max: number };
    fixedDetectionDelayMinutes: { p50: number; p90: number; max: number };
    ticks: number;
    realSeconds: number;
  };
}

const MINUTE = 60_000;

/**
 * Calls per upgrade over a realistic life, on the simulator's stepped clock: upgrades last 10 minutes to 24 hours
 * (log-uniform), start spread over one timer period, and are accepted as the start webhook accepts them, then started
 * by the queue trigger (first poll after POLL_FIRST_DELAY_SECONDS).
 * The timer fires every `tickMinutes` of simulated time and runs the real poll run with the default settings.
 * The fixed-interval policy (poll every tracked upgrade at every tick) is computed exactly from the same ground
 * truth and the same ticks: its calls = ticks from tracking to the first tick at or after completion.
 */
export async function benchLife(
  azurite: RunningAzurite,
  spec: LifeCase,
  log: (line: string) => void,
): Promise<LifeResult> {
  const repeats = new Repeats();
  let lastRun: LifeResult['lastRun'] | undefined;
  // The repeats run side by side (own simulator, own tables): a tick is mostly waiting on storage round trips.
  const runOnce = async (run: number) => {
    const started = performance.now();
    const tick = spec.tickMinutes * MINUTE;
    const start = Math.floor(Date.UTC(2026, 2, 1) / tick) * tick;
    const prng = createPrng(100 + run);
    const minS = spec.minMinutes * 60;
    const maxS = spec.maxHours * 3600;
    const scenario: Scenario = {
      name: `life-${run}`,
      seed: 100 + run,
      startTime: new Date(start).toISOString(),
      customers: Array.from({ length: spec.upgrades }, () => {
        const id = prng.guid();
        const total = Math.round(minS * Math.exp(prng.next() * Math.log(maxS / minS)));
        const pendingSeconds = Math.max(30, Math.round(total * 0.1));
        return {
          id,
          legacySubscriptions: 1 + Math.floor(prng.next() * 3),
          durations: { pendingSeconds, inProgressSeconds: Math.max(1, total - pendingSeconds) },
        };
      }),
    };
    const clock = steppedClock(start);
    const sim = await startSimulator({ port: 0, clock, scenario });
    try {
      const settings = stackSettings({
        storage: azurite.connectionString,
        partnerCenter: sim,
        tablePrefix: `life${run}`,
      });
      const now = () => clock.now();
      const { counter, services, send } = countingStack(settings, now);
      const { config, tracking: store } = services;
      // Start the upgrades through the API, spread over the first period; accept each as the webhook does, its tracking
      // message going straight to the queue trigger's code.
      const token = await simulatorToken(sim);
      const upgrades: { upgradeId: string; customerId: string; trackedAt: number }[] = [];
      for (const customer of scenario.customers) {
        clock.advance(Math.floor(tick / spec.upgrades));
        const response = await fetch(`${sim.url}/v1/productUpgrades`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ customerId: customer.id, productFamily: 'Azure' }),
        });
        await response.arrayBuffer();
        const upgradeId = response.headers.get('location')!.split('/').pop()!;
        await acceptUpgrade({ store, send, now }, { upgradeId, customerId: customer.id, productFamily: 'Azure' });
        upgrades.push({ upgradeId, customerId: customer.id, trackedAt: clock.now() });
      }
      sim.state.resetCounters();
      counter.reset();
      let finals = 0;
      let ticks = 0;
      let polls = 0;
      const lastTick = start + tick + spec.maxHours * 3600_000 + 2 * 3600_000;
      for (let at = start + tick; finals < spec.upgrades && at <= lastTick; at += tick) {
        clock.set(at);
        const summary = await pollDueUpgrades({
          store,
          partnerCenter: services.partnerCenter,
          config: config.poll,
          telemetry: noTelemetry,
          notify: async () => {},
          resend: send,
          now,
        });
        finals += summary.completed + summary.stale;
        polls += summary.polled;
        ticks++;
      }
      // Taken before the checks below read every upgrade: those reads are the benchmark's, not the poller's.
      const ops = counter.snapshot();
      const statusCalls = sim.state.counters().requests.status?.total ?? 0;
      const calls: number[] = [];
      const fixedCalls: number[] = [];
      const delays: number[] = [];
      const fixedDelays: number[] = [];
      for (const upgrade of upgrades) {
        const truth = sim.state.getUpgrade(upgrade.upgradeId)!;
        const found = await store.readUpgrade(upgrade.upgradeId);
        const finishedAt = Date.parse(truth.finishesAt);
        calls.push(found?.record.pollCount ?? Number.NaN);
        if (found?.record.completedAt) delays.push((Date.parse(found.record.completedAt) - finishedAt) / MINUTE);
        // Fixed policy: every tick from the first one after tracking until one at or after completion.
        const firstTick = Math.ceil(upgrade.trackedAt / tick) * tick;
        const seenAt = Math.max(firstTick, Math.ceil(finishedAt / tick) * tick);
        fixedCalls.push((seenAt - firstTick) / tick + 1);
        fixedDelays.push((seenAt - finishedAt) / MINUTE);
      }
      const runLevel = (ops.byTable[`life${run}PollRuns`] ?? 0) + ops.query + ops.createTable;
      const stats = (values: number[]) => ({
        p50: percentile(values, 50),
        p90: percentile(values, 90),
        max: Math.max(...values),
      });
      repeats.add({
        callsPerUpgrade: statusCalls / spec.upgrades,
        fixedCallsPerUpgrade: mean(fixedCalls),
        callReduction: mean(fixedCalls) / (statusCalls / spec.upgrades),
        detectionDelayP50Minutes: percentile(delays, 50),
        detectionDelayP90Minutes: percentile(delays, 90),
        detectionDelayMaxMinutes: Math.max(...delays),
        fixedDetectionDelayP50Minutes: percentile(fixedDelays, 50),
        fixedDetectionDelayMaxMinutes: Math.max(...fixedDelays),
        notDetected: spec.upgrades - delays.length,
        tableOpsPerPoll: (ops.total - runLevel) / Math.max(1, polls),
        tableOpsPerTickRunLevel: runLevel / Math.max(1, ticks),
      });
      lastRun = {
        callsPerUpgrade: stats(calls),
        fixedCallsPerUpgrade: stats(fixedCalls),
        detectionDelayMinutes: stats(delays),
        fixedDetectionDelayMinutes: stats(fixedDelays),
        ticks,
        realSeconds: (performance.now() - started) / 1000,
      };
      log(
        `  life run ${run + 1}/${spec.repeats}: ${ticks} ticks, calls/upgrade ${(statusCalls / spec.upgrades).toFixed(1)} ` +
          `(fixed 5-min: ${mean(fixedCalls).toFixed(1)}), detection delay p50 ${percentile(delays, 50).toFixed(1)} min ` +
          `(fixed: ${percentile(fixedDelays, 50).toFixed(1)}), ${lastRun.realSeconds.toFixed(0)} s`,
      );
    } finally {
      await sim.close();
    }
  };
  await Promise.all(Array.from({ length: spec.repeats }, (_, run) => runOnce(run)));
  return { case: spec, figures: repeats.figures(), lastRun: lastRun! };
}
