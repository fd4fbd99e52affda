import { startAzurite, type RunningAzurite } from '../dev/azurite';
import type { RunningSimulator } from '../dev/simulator';
import { simulatorToken, stackServices } from '../dev/stack';
import { loadConfig, type AppConfig } from '../shared/config';
import type { Services } from '../shared/services';
import { Tables } from '../shared/storage/tables';
import { TrackingStore, trackUpgrade, type TrackingSender } from '../shared/tracking';
import { newUpgradeRecord, startedRecord } from '../shared/tracking/start-tracking';
import { seedTrackingTable } from '../dev/tracking-seed';
import { CountingTables, TableOpCounter } from './counting';

/**
 * What only the benchmark needs on top of the one local stack (`dev/stack.ts`: settings, services, signing): one
 * Azurite for the whole run, the services with their table operations counted, and seeding many upgrades at once.
 */

export async function withAzurite<T>(body: (azurite: RunningAzurite) => Promise<T>): Promise<T> {
  const azurite = await startAzurite();
  try {
    return await body(azurite);
  } finally {
    await azurite.stop();
  }
}

/**
 * Starts one upgrade per customer in the simulator through its create API (seeding, before any measurement;
 * the simulator has no rate limit or latency set at this point). Returns upgrade ids in customer order.
 */
export async function createUpgrades(
  sim: RunningSimulator,
  customerIds: readonly string[],
  options: { concurrency?: number; beforeEach?: (index: number) => void } = {},
): Promise<string[]> {
  const token = await simulatorToken(sim);
  const ids: string[] = new Array<string>(customerIds.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= customerIds.length) return;
      options.beforeEach?.(index);
      const response = await fetch(`${sim.url}/v1/productUpgrades`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ customerId: customerIds[index], productFamily: 'Azure' }),
      });
      await response.arrayBuffer();
      const location = response.headers.get('location');
      if (response.status !== 202 || !location) throw new Error(`create answered ${response.status}`);
      ids[index] = location.split('/').pop()!;
    }
  };
  // A callback that moves a stepped clock between creates needs them one at a time.
  const concurrency = options.beforeEach ? 1 : (options.concurrency ?? 16);
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ids;
}

/** The app's services with every table operation counted, and tracking messages handed straight to the tracking. */
export interface CountingStack {
  /** Every table operation of the services. */
  counter: TableOpCounter;
  services: Services;
  /** The upgrade-tracking queue: the message given at once to the queue trigger's code (`trackUpgrade`). */
  send: TrackingSender;
}

/** `stackServices` on a stack's settings, on tables that count their operations, the tracking on the clock `now`. */
export function countingStack(settings: Record<string, string>, now: () => number): CountingStack {
  const config = loadConfig(settings);
  const counter = new TableOpCounter();
  const tables = new CountingTables(config, counter);
  const tracking = new TrackingStore(tables);
  const services = stackServices(settings, { tables, tracking });
  const send: TrackingSender = async (message) => {
    await trackUpgrade(message, { store: tracking, now, firstPollDelayMs: config.poll.firstDelayMs });
  };
  return { counter, services, send };
}

export interface TrackedUpgrade {
  upgradeId: string;
  customerId: string;
}

/**
 * Writes the tracking state startTracking leaves behind (upgrade row started, schedule row due at `dueAt`) for many
 * upgrades at once, in batch transactions: seeding 10,000 through the queue one by one would take longer than the
 * benchmark itself. The rows are built by the app's own functions. No CustomerUpgrades rows: the poll run never
 * touches that index.
 */
export async function seedTracked(
  config: AppConfig,
  upgrades: readonly TrackedUpgrade[],
  trackedAt: number,
  dueAt: number,
): Promise<void> {
  await seedTrackingTable(
    new Tables(config),
    upgrades.map(({ upgradeId, customerId }) =>
      startedRecord(newUpgradeRecord({ upgradeId, customerId, productFamily: 'Azure' }, trackedAt), trackedAt, dueAt),
    ),
  );
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
