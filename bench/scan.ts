/**
 * The fleet scan against Partner Center's rate limit: N generated customers (`generateFleetScenario`) in the simulator
 * with a partner-wide token bucket of R requests/s and latency on every call, scanned by ONE timer run of the app
 * (`runBackground`, as `pollUpgrades` calls it: the poll step finds nothing due, then the scan through the run's one
 * request gate) with a time budget large enough for the whole scan. The run is in a process of its own (this file
 * forked with `worker`), so its memory high-water is the app's alone: the simulator, which holds the N customers,
 * stays in the parent. Figures: drain time against the bound (the Partner Center calls the scan made ÷ R),
 * efficiency = bound ÷ drain, calls per customer by kind, peak RSS, 429s.
 */
import type { RunningAzurite } from '../dev/azurite';
import { generateFleetScenario, startSimulator, steppedClock } from '../dev/simulator';
import { stackSettings } from '../dev/stack';
import { loadConfig } from '../shared/config';
import { requestFleetScan, runBackground, type ScanCounts } from '../shared/fleet';
import { backgroundOptions, createServices } from '../shared/services';
import { noTelemetry } from '../shared/telemetry/telemetry';
import { forkForResult, sampleMemory } from './machine';
import { figure, type Figure } from './stats';

export interface ScanCase {
  /** Short name, letters and digits (used in table names). */
  name: string;
  customers: number;
  /** The simulator's partner-wide limit, requests/s (token bucket, burst = the rate) = POLL_RATE_PER_SECOND. */
  limitPerSecond: number;
  /** POLL_CONCURRENCY: customers whose facts are read at once. */
  concurrency: number;
  /** Simulator latency on every call: base + uniform jitter in [0, jitterMs]. */
  latencyMs: number;
  jitterMs: number;
  seed: number;
}

/** The Partner Center calls of a scan, by kind, as the simulator served them. */
const CALL_ROUTES = ['customers', 'usageRecords', 'subscriptions', 'agreements', 'eligibility'] as const;

export interface ScanWorkerResult {
  /** The whole timer run: the poll step (nothing due) and the scan step. */
  runMs: number;
  scan: { outcome: string; state?: string; checked?: number; durationMs?: number; stoppedBy?: string };
  /** The scan's counts as stored with its last write. */
  counts?: ScanCounts;
  peakRssMiB: number;
  peakHeapUsedMiB: number;
  baselineRssMiB: number;
}

export interface ScanCaseResult {
  case: ScanCase;
  /** The Partner Center calls the scan made ÷ R: no scan can make them faster. */
  boundSeconds: number;
  figures: Record<string, Figure>;
  callsByKind: Record<string, number>;
  callsPerCustomerByKind: Record<string, number>;
  worker: ScanWorkerResult;
}

export async function benchScanCase(
  azurite: RunningAzurite,
  spec: ScanCase,
  log: (line: string) => void,
): Promise<ScanCaseResult> {
  // A clock that never moves: the upgrades some customers have running stay running, so the fleet stays as generated.
  const sim = await startSimulator({
    port: 0,
    clock: steppedClock('2026-03-01T00:00:00Z'),
    scenario: generateFleetScenario({ customers: spec.customers, seed: spec.seed }),
  });
  try {
    const settings = stackSettings(
      { storage: azurite.connectionString, partnerCenter: sim, tablePrefix: `bscan${spec.name}`.slice(0, 20) },
      {
        POLL_RATE_PER_SECOND: String(spec.limitPerSecond),
        POLL_CONCURRENCY: String(spec.concurrency),
        // One timer run does the whole scan: its budget is the largest the app takes.
        POLL_TIME_BUDGET_SECONDS: '1500',
      },
    );
    sim.setFaults('*', { latencyMs: spec.latencyMs, latencyJitterMs: spec.jitterMs });
    sim.setRateLimits({ perPartner: { ratePerSecond: spec.limitPerSecond, burst: spec.limitPerSecond } });
    sim.state.resetCounters();
    const worker = await forkForResult<ScanWorkerResult>('scan worker', __filename, ['worker'], settings);
    const counters = sim.state.counters();
    const callsByKind: Record<string, number> = {};
    for (const route of CALL_ROUTES) callsByKind[route] = counters.requests[route]?.total ?? 0;
    const calls = Object.values(callsByKind).reduce((sum, n) => sum + n, 0);
    const boundSeconds = calls / spec.limitPerSecond;
    const drainSeconds = (worker.scan.durationMs ?? worker.runMs) / 1000;
    const throttled = counters.throttled.total;
    const callsPerCustomerByKind = Object.fromEntries(
      Object.entries(callsByKind).map(([kind, n]) => [kind, Math.round((n / spec.customers) * 1000) / 1000]),
    );
    const checked = worker.counts?.checked ?? 0;
    if (worker.scan.state !== 'completed' || checked !== spec.customers) {
      throw new Error(
        `scan ${spec.name} did not check every customer: ${JSON.stringify(worker.scan)}, ${checked} rows of ${spec.customers}`,
      );
    }
    const sample: Record<string, number> = {
      drainSeconds,
      boundSeconds,
      efficiency: boundSeconds / drainSeconds,
      calls,
      callsPerCustomer: calls / spec.customers,
      throttled429: throttled,
      peakRssMiB: worker.peakRssMiB,
      peakHeapUsedMiB: worker.peakHeapUsedMiB,
      timerRunSeconds: worker.runMs / 1000,
    };
    log(
      `  scan ${spec.name}: N=${spec.customers}, ${calls} calls (${(calls / spec.customers).toFixed(2)} per customer), ` +
        `drain ${drainSeconds.toFixed(1)} s (bound ${boundSeconds.toFixed(1)} s, efficiency ${sample.efficiency.toFixed(3)}), ` +
        `429s ${throttled}, peak RSS ${worker.peakRssMiB} MiB`,
    );
    return {
      case: spec,
      boundSeconds,
      figures: Object.fromEntries(Object.entries(sample).map(([name, value]) => [name, figure([value])])),
      callsByKind,
      callsPerCustomerByKind,
      worker,
    };
  } finally {
    await sim.close();
  }
}

/** The timer run in this process: the app's services from the settings (environment), as the Functions worker builds them. */
async function worker(): Promise<void> {
  const config = loadConfig(process.env);
  // Telemetry off: the benchmark measures the scan, not console output of the fallback telemetry.
  const services = createServices(config, { telemetry: noTelemetry });
  // What a deployment has before the first run: its tables and queues (infra creates them).
  await services.tables.createAll();
  await services.queues.upgradeTracking.createIfNotExists();
  await services.queues.upgradeNotifications.createIfNotExists();
  await requestFleetScan(services.fleet);
  const memory = sampleMemory();
  const started = performance.now();
  const { scan } = await runBackground(backgroundOptions(services));
  const runMs = performance.now() - started;
  const peak = memory.stop();
  const slot = await services.fleet.readSlot();
  const result: ScanWorkerResult = {
    runMs,
    scan:
      scan.outcome === 'worked'
        ? {
            outcome: scan.outcome,
            state: scan.state,
            checked: scan.checked,
            durationMs: scan.durationMs,
            ...(scan.stoppedBy ? { stoppedBy: scan.stoppedBy } : {}),
          }
        : { outcome: scan.outcome },
    ...(slot?.scan ? { counts: slot.scan.counts } : {}),
    ...peak,
  };
  process.send?.(result);
}

if (require.main === module && process.argv[2] === 'worker') {
  worker().then(
    // Exit explicitly: SDK clients keep sockets and timers that would hold the process open.
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exit(1);
    },
  );
}
