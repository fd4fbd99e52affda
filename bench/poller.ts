import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import type { RunningAzurite } from '../dev/azurite';
import { generateScenario, startSimulator, steppedClock, type RunningSimulator } from '../dev/simulator';
import { TableOpCounter } from './counting';
import { forkForResult } from './machine';
import type { PollWorkerResult } from './poll-worker';
import { stackServices, stackSettings } from '../dev/stack';
import { loadConfig } from '../shared/config';
import { createUpgrades, seedTracked } from './stack';
import { Repeats, type Figure } from './stats';

export interface PollerCase {
  /** Short name, letters and digits (used in table names). */
  name: string;
  upgrades: number;
  /** The simulator's per-partner limit, requests/s (token bucket, burst = the rate). */
  limitPerSecond: number;
  /** POLL_RATE_PER_SECOND. */
  configuredRate: number;
  /** POLL_CONCURRENCY. */
  concurrency: number;
  /** Simulator latency on status calls: base + uniform jitter in [0, jitterMs]. */
  latencyMs: number;
  jitterMs: number;
  repeats: number;
  /** More app settings for this case (e.g. a diagnostic variant). */
  extraSettings?: Record<string, string>;
  /** Ids the naive sequential baseline polls per repeat (0 = no baseline); its drain time is extrapolated to N. */
  baselineSample: number;
}

export interface PollerCaseResult {
  case: PollerCase;
  idealDrainSeconds: number;
  figures: Record<string, Figure>;
  /** The last repeat's raw counts, for reading the figures. */
  lastRun: {
    worker: PollWorkerResult;
    statusRequestsByStatus: Record<string, number>;
    tokenRequests: number;
    /** 429 episodes (see `throttleEpisodes`), seconds from the start of the run. */
    throttleEpisodes: { firstAtS: number; lastAtS: number; count: number }[];
  };
}

const WORKER = path.join(__dirname, 'poll-worker.js');

interface CounterSample {
  atMs: number;
  throttled: number;
}

export interface ThrottleEpisode {
  firstAtMs: number;
  lastAtMs: number;
  count: number;
}

/**
 * Groups the 429s of a run into episodes: a 429 more than `retryAfterMs` after the previous one starts a new
 * episode. An episode's length is how long the run stayed over the limit once it had been told; the target is one
 * Retry-After. A run that climbs its rate back and meets the limit again starts a new episode.
 */
export function throttleEpisodes(samples: readonly CounterSample[], retryAfterMs: number): ThrottleEpisode[] {
  const episodes: ThrottleEpisode[] = [];
  let seen = 0;
  for (const sample of samples) {
    if (sample.throttled <= seen) continue;
    const added = sample.throttled - seen;
    seen = sample.throttled;
    const last = episodes.at(-1);
    if (last && sample.atMs - last.lastAtMs <= retryAfterMs) {
      last.lastAtMs = sample.atMs;
      last.count += added;
    } else {
      episodes.push({ firstAtMs: sample.atMs, lastAtMs: sample.atMs, count: added });
    }
  }
  return episodes;
}

/** Samples the simulator's 429 counter (in-process, no HTTP) to date the first and last 429 of a run. */
function sampleThrottling(sim: RunningSimulator, everyMs = 50): { stop(): CounterSample[] } {
  const samples: CounterSample[] = [];
  const started = performance.now();
  const timer = setInterval(() => {
    samples.push({
      atMs: performance.now() - started,
      throttled: sim.state.counters().throttled.total,
    });
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}

/**
 * The naive baseline, as Microsoft's samples do it: read the ids, then for each one in turn `getUpgradeStatus` and
 * one table write, no concurrency. Run over `sample` ids and extrapolated to N (it is linear in N by construction).
 */
async function naiveBaseline(
  settings: Record<string, string>,
  ids: readonly { upgradeId: string; customerId: string }[],
): Promise<{ perUpgradeMs: number; statusCalls: number; tableOps: number }> {
  const services = stackServices(settings);
  const { config } = services;
  const counter = new TableOpCounter();
  const table = TableClient.fromConnectionString(settings.AzureWebJobsStorage, `${config.tableNamePrefix}Naive`, {
    allowInsecureConnection: true,
  });
  table.pipeline.addPolicy(counter.policy);
  await table.createTable();
  // Warm the token (the poller's worker also starts with one token request; neither is part of the per-id cost).
  await services.partnerCenter.getUpgradeStatus({ ...ids[0], productFamily: 'Azure' });
  counter.reset();
  const started = performance.now();
  for (const { upgradeId, customerId } of ids) {
    const status = await services.partnerCenter.getUpgradeStatus({ upgradeId, customerId, productFamily: 'Azure' });
    await table.upsertEntity(
      { partitionKey: 'upgrades', rowKey: upgradeId, status: status.status, checkedAt: new Date().toISOString() },
      'Replace',
    );
  }
  const elapsed = performance.now() - started;
  return { perUpgradeMs: elapsed / ids.length, statusCalls: ids.length, tableOps: counter.counts.total };
}

export async function benchPollerCase(
  azurite: RunningAzurite,
  spec: PollerCase,
  log: (line: string) => void,
): Promise<PollerCaseResult> {
  const clock = steppedClock(Date.now());
  // A stepped clock that is never advanced: every upgrade stays Pending, so every poll is a full poll (no upgrade
  // leaves the schedule) and N stays N for the whole run.
  const sim = await startSimulator({
    port: 0,
    clock,
    scenario: generateScenario({
      customers: spec.upgrades,
      seed: 7,
      mix: { eligible: 1 },
      outcomes: { Completed: 1 },
    }),
  });
  try {
    const customers = sim.scenario.customers.map((c) => c.id);
    const upgradeIds = await createUpgrades(sim, customers);
    const upgrades = upgradeIds.map((upgradeId, i) => ({ upgradeId, customerId: customers[i] }));
    const repeats = new Repeats();
    const ideal = spec.upgrades / spec.limitPerSecond;
    let lastRun: PollerCaseResult['lastRun'] | undefined;
    for (let run = 0; run < spec.repeats; run++) {
      const prefix = `b${spec.name}${run}`.slice(0, 20);
      const settings = stackSettings(
        { storage: azurite.connectionString, partnerCenter: sim, tablePrefix: prefix },
        {
          POLL_RATE_PER_SECOND: String(spec.configuredRate),
          POLL_CONCURRENCY: String(spec.concurrency),
          POLL_TIME_BUDGET_SECONDS: '1500',
          ...spec.extraSettings,
        },
      );
      const now = Date.now();
      await seedTracked(loadConfig(settings), upgrades, now - 60_000, now - 1_000);
      sim.setFaults('status', { latencyMs: spec.latencyMs, latencyJitterMs: spec.jitterMs });
      sim.setRateLimits({ perPartner: { ratePerSecond: spec.limitPerSecond, burst: spec.limitPerSecond } });
      sim.state.resetCounters();
      const sampler = sampleThrottling(sim);
      const worker = await forkForResult<PollWorkerResult>('poll worker', WORKER, [], settings);
      const samples = sampler.stop();
      const counters = sim.state.counters();
      const status = counters.requests.status ?? { total: 0, byStatus: {} };
      const ops = worker.tableOps;
      const due = Math.max(1, worker.summary.due);
      // Per run, not per upgrade: the heartbeat row (start + finish) and the due queries.
      const runLevel = (ops.byTable[`${prefix}PollRuns`] ?? 0) + ops.query + ops.createTable;
      const drainSeconds = worker.durationMs / 1000;
      const throttled = counters.throttled.total;
      const episodes = throttleEpisodes(samples, 1_000);
      const sample: Record<string, number> = {
        drainSeconds,
        efficiency: ideal / drainSeconds,
        pollsPerSecond: worker.summary.polled / drainSeconds,
        // Answered status calls per second against the limit: the throughput actually reached.
        throughputVsLimit: (status.byStatus['200'] ?? 0) / drainSeconds / spec.limitPerSecond,
        throttled429: throttled,
        throttled429AfterFirst: Math.max(0, throttled - 1),
        pcCallsPerPoll: status.total / due,
        tableOpsPerPoll: (ops.total - runLevel) / due,
        tableOpsPerPollAll: ops.total / due,
        peakRssMiB: worker.peakRssMiB,
        peakHeapUsedMiB: worker.peakHeapUsedMiB,
        errors: worker.summary.errors,
        outstanding: worker.summary.outstanding,
      };
      if (episodes.length > 0) {
        sample.throttleEpisodes = episodes.length;
        sample.longestThrottleEpisodeSeconds = Math.max(...episodes.map((e) => e.lastAtMs - e.firstAtMs)) / 1000;
        sample.most429sInOneEpisode = Math.max(...episodes.map((e) => e.count));
        sample.throttledSpanSeconds = (episodes.at(-1)!.lastAtMs - episodes[0].firstAtMs) / 1000;
      }
      log(
        `  ${spec.name} run ${run + 1}/${spec.repeats}: drain ${drainSeconds.toFixed(1)} s (ideal ${ideal.toFixed(1)}), ` +
          `429s ${throttled}, PC calls/poll ${sample.pcCallsPerPoll.toFixed(2)}, table ops/poll ${sample.tableOpsPerPoll.toFixed(2)}, ` +
          `peak RSS ${worker.peakRssMiB} MiB`,
      );
      if (spec.baselineSample > 0) {
        const sampleIds = upgrades.slice(0, Math.min(spec.baselineSample, upgrades.length));
        sim.state.resetCounters();
        const naive = await naiveBaseline(settings, sampleIds);
        const naiveDrain = (naive.perUpgradeMs * spec.upgrades) / 1000;
        sample.baselineDrainSeconds = naiveDrain;
        sample.baselineEfficiency = ideal / naiveDrain;
        sample.speedupOverBaseline = naiveDrain / drainSeconds;
        sample.baselineTableOpsPerPoll = naive.tableOps / sampleIds.length;
        sample.baseline429 = sim.state.counters().throttled.total;
        log(
          `  ${spec.name} naive baseline: ${naive.perUpgradeMs.toFixed(1)} ms per id → ${naiveDrain.toFixed(0)} s for N`,
        );
      }
      repeats.add(sample);
      lastRun = {
        worker,
        statusRequestsByStatus: status.byStatus,
        tokenRequests: counters.tokenRequests.total,
        throttleEpisodes: episodes.map((e) => ({
          firstAtS: e.firstAtMs / 1000,
          lastAtS: e.lastAtMs / 1000,
          count: e.count,
        })),
      };
    }
    return { case: spec, idealDrainSeconds: ideal, figures: repeats.figures(), lastRun: lastRun! };
  } finally {
    await sim.close();
  }
}
