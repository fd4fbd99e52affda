import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TableClient } from '@azure/data-tables';
import type { PollConfig } from '../../../shared/config';
import type {
  CallOptions,
  CreateUpgradeResult,
  Eligibility,
  NormalizedUpgradeStatus,
  ProductUpgradeRequest,
  ProductUpgrades,
  UpgradeStatusResult,
} from '../../../shared/partner-center/types';
import type { TableKey } from '../../../shared/storage/names';
import { Tables } from '../../../shared/storage/tables';
import { acceptUpgrade } from '../../../shared/tracking/accept';
import type { TrackingMessage, UpgradeNotification } from '../../../shared/tracking/records';
import { startTracking, type StartTrackingResult } from '../../../shared/tracking/start-tracking';
import { TrackingStore, type TableSource } from '../../../shared/tracking/store';

/** Tables on the Azurite of the global setup, under a prefix no other test file uses. */
export function testTables(label: string): Tables {
  const connectionString = process.env.AzureWebJobsStorage;
  if (!connectionString) throw new Error('AzureWebJobsStorage is not set: run through the integration project');
  const prefix = `${label}${randomBytes(4).toString('hex')}`.replace(/[^A-Za-z0-9]/g, '').slice(0, 20);
  return new Tables({ storage: { kind: 'connectionString', connectionString }, tableNamePrefix: prefix });
}

export function testStore(label: string): { store: TrackingStore; tables: Tables } {
  const tables = testTables(label);
  return { store: new TrackingStore(tables), tables };
}

export function guid(): string {
  return crypto.randomUUID();
}

/**
 * An upgrade recorded the way every source of the app records it (`acceptUpgrade`, its message kept aside), then its
 * tracking started by startTracking at the same time `at`.
 */
export async function acceptAndTrack(
  store: TrackingStore,
  message: TrackingMessage,
  at: number = Date.now(),
): Promise<StartTrackingResult> {
  await acceptUpgrade({ store, send: () => Promise.resolve(), now: () => at }, message);
  return startTracking(message, { store, firstPollDelayMs: 0, now: () => at });
}

export const pollConfig = (overrides: Partial<PollConfig> = {}): PollConfig => ({
  schedule: '0 */5 * * * *',
  concurrency: 8,
  ratePerSecond: 1000,
  timeBudgetMs: 60_000,
  firstDelayMs: 0,
  minIntervalMs: 60_000,
  maxIntervalMs: 1_800_000,
  maxAgeMs: 30 * 86_400_000,
  ...overrides,
});

/** An error shaped like the Partner Center client's PartnerCenterError. */
export class FakePartnerCenterError extends Error {
  constructor(
    readonly category: string,
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(`Partner Center ${category}`);
    this.name = 'PartnerCenterError';
  }
}

export type ScriptStep = NormalizedUpgradeStatus | { raw: string } | FakePartnerCenterError;

/**
 * A scripted Partner Center: each upgrade answers its script one step per status call (the last step repeats).
 * Records every call. Raw statuses follow Partner Center's spelling (camelCase).
 */
export class ScriptedPartnerCenter implements ProductUpgrades {
  readonly calls: { upgradeId: string; at: number }[] = [];
  /** When each scripted error was thrown (performance.now()). */
  readonly errorsAt: { upgradeId: string; at: number; category: string }[] = [];
  private readonly scripts = new Map<string, ScriptStep[]>();
  private readonly position = new Map<string, number>();
  delayMs = 0;
  inFlight = 0;
  maxInFlight = 0;

  script(upgradeId: string, ...steps: ScriptStep[]): this {
    this.scripts.set(upgradeId, steps);
    return this;
  }

  checkEligibility(_request: ProductUpgradeRequest, _options?: CallOptions): Promise<Eligibility> {
    return Promise.reject(new Error('not used by the poller'));
  }

  createUpgrade(_request: ProductUpgradeRequest, _options?: CallOptions): Promise<CreateUpgradeResult> {
    return Promise.reject(new Error('not used by the poller'));
  }

  async getUpgradeStatus(
    request: ProductUpgradeRequest & { upgradeId: string },
    _options?: CallOptions,
  ): Promise<UpgradeStatusResult> {
    this.calls.push({ upgradeId: request.upgradeId, at: performance.now() });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      // Partner Center's latency, modelled (overlapping calls, a time budget spent): not a wait for anything.
      if (this.delayMs) await sleep(this.delayMs);
      const steps = this.scripts.get(request.upgradeId);
      if (!steps) throw new FakePartnerCenterError('not-found', undefined, 404);
      const index = this.position.get(request.upgradeId) ?? 0;
      this.position.set(request.upgradeId, index + 1);
      const step = steps[Math.min(index, steps.length - 1)];
      if (step instanceof FakePartnerCenterError) {
        this.errorsAt.push({ upgradeId: request.upgradeId, at: performance.now(), category: step.category });
        throw step;
      }
      const status: NormalizedUpgradeStatus = typeof step === 'string' ? step : 'Unknown';
      const rawStatus = typeof step === 'string' ? status.charAt(0).toLowerCase() + status.slice(1) : step.raw;
      return {
        upgradeId: request.upgradeId,
        productFamily: request.productFamily,
        rawStatus,
        status,
        isTerminal: ['Completed', 'Failed', 'Cancelled'].includes(status),
        lineItems: [
          {
            sourceProduct: { id: `legacy-${request.upgradeId.slice(0, 8)}`, name: 'Microsoft Azure (MS-AZR-0145P)' },
            targetProduct: { id: 'DZH318Z0BCZC', name: 'Azure plan' },
            status: rawStatus,
          },
        ],
      };
    } finally {
      this.inFlight--;
    }
  }

  callsFor(upgradeId: string): number {
    return this.calls.filter((c) => c.upgradeId === upgradeId).length;
  }
}

export class RecordingNotifier {
  readonly sent: UpgradeNotification[] = [];
  failuresLeft = 0;
  readonly notify = (notification: UpgradeNotification): Promise<void> => {
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      return Promise.reject(new Error('queue unavailable'));
    }
    this.sent.push(notification);
    return Promise.resolve();
  };
}

/** Records the tracking messages sent (by acceptUpgrade, or re-sent by a poll run); can lose the next few. */
export class RecordingTracker {
  readonly sent: TrackingMessage[] = [];
  lostLeft = 0;
  readonly send = (message: TrackingMessage): Promise<void> => {
    if (this.lostLeft > 0) {
      this.lostLeft--;
      return Promise.reject(new Error('queue unavailable'));
    }
    this.sent.push(message);
    return Promise.resolve();
  };
}

const WRITE_METHODS = ['createEntity', 'updateEntity', 'upsertEntity', 'deleteEntity', 'submitTransaction'];

/**
 * Counts what the store does with each table: queries, rows returned by them, point reads, and write requests by
 * method (a transaction is one request).
 */
export class CountingTables implements TableSource {
  readonly queries = new Map<TableKey, string[]>();
  readonly rowsRead = new Map<TableKey, number>();
  readonly pointReads = new Map<TableKey, string[]>();
  readonly writes = new Map<TableKey, Record<string, number>>();

  constructor(private readonly inner: TableSource) {}

  reset(): void {
    this.queries.clear();
    this.rowsRead.clear();
    this.pointReads.clear();
    this.writes.clear();
  }

  async get(key: TableKey): Promise<TableClient> {
    const client = await this.inner.get(key);
    const count = (n: number) => this.rowsRead.set(key, (this.rowsRead.get(key) ?? 0) + n);
    return new Proxy(client, {
      get: (target, property, receiver) => {
        if (typeof property === 'string' && WRITE_METHODS.includes(property)) {
          return (...args: unknown[]) => {
            const counts = this.writes.get(key) ?? {};
            counts[property] = (counts[property] ?? 0) + 1;
            this.writes.set(key, counts);
            return (Reflect.get(target, property, target) as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        }
        if (property === 'getEntity') {
          return (partitionKey: string, rowKey: string, options?: object) => {
            this.pointReads.set(key, [...(this.pointReads.get(key) ?? []), `${partitionKey}/${rowKey}`]);
            return target.getEntity(partitionKey, rowKey, options);
          };
        }
        if (property === 'listEntities') {
          return (options?: { queryOptions?: { filter?: string } }) => {
            this.queries.set(key, [...(this.queries.get(key) ?? []), options?.queryOptions?.filter ?? '(all)']);
            const iterator = target.listEntities(options);
            return {
              async *[Symbol.asyncIterator]() {
                for await (const entity of iterator) {
                  count(1);
                  yield entity;
                }
              },
              byPage(settings?: object) {
                const pages = iterator.byPage(settings);
                return (async function* () {
                  for await (const page of pages) {
                    count(page.length);
                    yield page;
                  }
                })();
              },
            };
          };
        }
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
  }
}

/** Every row of a table (test inspection only), without system properties that differ between runs. */
export async function snapshot(tables: TableSource, key: TableKey): Promise<Record<string, unknown>[]> {
  const client = await tables.get(key);
  const rows: Record<string, unknown>[] = [];
  for await (const entity of client.listEntities<Record<string, unknown>>()) {
    const { etag: _etag, timestamp: _timestamp, ...rest } = entity as Record<string, unknown>;
    rows.push(rest);
  }
  return rows;
}

/** The Tracking table's rows of one kind (`t!` schedule, `a!` accepted, `u!` upgrade, `h!` history), of one upgrade. */
export async function trackingRows(
  tables: TableSource,
  kind: 'u' | 'h' | 't' | 'a',
  upgradeId?: string,
): Promise<Record<string, unknown>[]> {
  return (await snapshot(tables, 'tracking')).filter(
    (row) => String(row.rowKey).startsWith(`${kind}!`) && (upgradeId === undefined || row.upgradeId === upgradeId),
  );
}
