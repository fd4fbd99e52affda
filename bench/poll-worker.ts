/**
 * One poll run in a process of its own, as the Functions worker runs it: the app's services from its settings
 * (environment), `pollDueUpgrades` with the production wiring, and the process's memory high-water. The parent
 * (bench/poller.ts) owns the simulator and Azurite; the result goes back over the IPC channel.
 */
import { loadConfig } from '../shared/config';
import { createServices } from '../shared/services';
import { noTelemetry } from '../shared/telemetry/telemetry';
import { pollDueUpgrades, queueNotifier, queueTracker, TrackingStore } from '../shared/tracking';
import { CountingTables, TableOpCounter } from './counting';
import { sampleMemory } from './machine';

export interface PollWorkerResult {
  durationMs: number;
  /** From the first status call to the last answer: the part the rate limit governs. */
  summary: { due: number; polled: number; changed: number; throttled: number; errors: number; outstanding: number };
  stoppedBy?: string;
  tableOps: ReturnType<TableOpCounter['snapshot']>;
  /** Table requests of the run itself (heartbeat rows, due queries), not of any one upgrade. */
  peakRssMiB: number;
  peakHeapUsedMiB: number;
  baselineRssMiB: number;
  maxRssKernelMiB: number;
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const counter = new TableOpCounter();
  const tables = new CountingTables(config, counter);
  // Telemetry off: the benchmark measures the poller, not console output of the fallback telemetry.
  const services = createServices(config, { tables, tracking: new TrackingStore(tables), telemetry: noTelemetry });
  const memory = sampleMemory();
  // Create the tables and the notification queue before timing (a deployed app has them from infra).
  for (const key of ['tracking', 'customerUpgrades', 'pollRuns'] as const) {
    await tables.get(key);
  }
  await services.queues.upgradeNotifications.createIfNotExists();
  counter.reset();
  const started = performance.now();
  const summary = await pollDueUpgrades({
    store: services.tracking,
    partnerCenter: services.partnerCenter,
    config: config.poll,
    telemetry: services.telemetry,
    notify: queueNotifier(services.queues.upgradeNotifications),
    resend: queueTracker(services.queues.upgradeTracking),
  });
  const durationMs = performance.now() - started;
  const peak = memory.stop();
  const result: PollWorkerResult = {
    durationMs,
    summary: {
      due: summary.due,
      polled: summary.polled,
      changed: summary.changed,
      throttled: summary.throttled,
      errors: summary.errors,
      outstanding: summary.outstanding,
    },
    stoppedBy: summary.stoppedBy,
    tableOps: counter.snapshot(),
    ...peak,
    maxRssKernelMiB: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
  };
  process.send?.(result);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
