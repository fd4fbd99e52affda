import type { TableClient } from '@azure/data-tables';
import type { TableKey } from '../../../shared/storage/names';
import { noTelemetry } from '../../../shared/telemetry/telemetry';
import { acceptUpgrade } from '../../../shared/tracking/accept';
import { pollDueUpgrades } from '../../../shared/tracking/poll-run';
import type { TrackingMessage, UpgradeNotification } from '../../../shared/tracking/records';
import { rankOf, type KnownStatus } from '../../../shared/tracking/state';
import { startTracking } from '../../../shared/tracking/start-tracking';
import { TrackingStore, type TableSource } from '../../../shared/tracking/store';
import type {
  ProductUpgrades,
  UpgradeStatusResult,
  NormalizedUpgradeStatus,
} from '../../../shared/partner-center/types';
import { guid, pollConfig, testTables, trackingRows } from './helpers';

const T0 = Date.parse('2026-06-01T00:00:00.000Z');
const MINUTE = 60_000;
const WRITES = ['createEntity', 'updateEntity', 'deleteEntity', 'submitTransaction', 'upsertEntity'];

/** Counts every side effect (table writes and notifications); the `crashAt`-th one "crashes" right after it lands. */
class CrashAfter {
  count = 0;
  constructor(private readonly crashAt: number | undefined) {}
  async effect<T>(action: () => Promise<T>): Promise<T> {
    const result = await action();
    if (++this.count === this.crashAt) throw new Error(`crash after side effect #${this.count}`);
    return result;
  }
}

class CrashingTables implements TableSource {
  constructor(
    private readonly inner: TableSource,
    private readonly crash: CrashAfter,
  ) {}
  async get(key: TableKey): Promise<TableClient> {
    const client = await this.inner.get(key);
    return new Proxy(client, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof property !== 'string' || !WRITES.includes(property) || typeof value !== 'function') return value;
        return (...args: unknown[]) =>
          this.crash.effect(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
      },
    });
  }
}

/** Partner Center's truth moves with the clock: Pending, then InProgress after 10 min, Completed after 30. */
function timedPartnerCenter(clock: () => number): ProductUpgrades & { calls: number } {
  return {
    calls: 0,
    checkEligibility: () => Promise.reject(new Error('unused')),
    createUpgrade: () => Promise.reject(new Error('unused')),
    getUpgradeStatus(request): Promise<UpgradeStatusResult> {
      this.calls++;
      const age = clock() - T0;
      const status: NormalizedUpgradeStatus =
        age < 10 * MINUTE ? 'Pending' : age < 30 * MINUTE ? 'InProgress' : 'Completed';
      return Promise.resolve({
        upgradeId: request.upgradeId,
        productFamily: request.productFamily,
        rawStatus: status,
        status,
        isTerminal: status === 'Completed',
        lineItems: [],
      });
    },
  };
}

/**
 * One upgrade from its acceptance to its notification, on a timer every 10 minutes, crashing once. The caller of
 * acceptUpgrade (the start webhook's caller) retries a failure; the queue redelivers a message whose handler threw;
 * the poll runs re-send the message of an upgrade whose tracking has not started. Scenarios share one set of tables:
 * each leaves its upgrade final and out of the schedule, so the next sees only its own.
 */
const tables = testTables('trkcrash');
async function scenario(crashAt: number | undefined) {
  const crash = new CrashAfter(crashAt);
  const store = new TrackingStore(new CrashingTables(tables, crash));
  let now = T0;
  const clock = () => now;
  const sent: UpgradeNotification[] = [];
  const notify = (n: UpgradeNotification) => crash.effect(async () => void sent.push(n));
  const queue: TrackingMessage[] = [];
  const send = (m: TrackingMessage) => crash.effect(async () => void queue.push(m));
  const upgradeId = guid();
  const customerId = guid();
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await acceptUpgrade({ store, send, now: clock }, { upgradeId, customerId, productFamily: 'Azure' });
      break;
    } catch {
      now += 1_000;
    }
  }
  const deliver = async () => {
    for (let message = queue.shift(); message; message = queue.shift()) {
      for (let delivery = 0; delivery < 5; delivery++) {
        try {
          await startTracking(message, { store, firstPollDelayMs: 0, now: clock });
          break;
        } catch {
          now += 1_000;
        }
      }
    }
  };
  await deliver();
  const partnerCenter = timedPartnerCenter(clock);
  for (let tick = 0; tick < 40; tick++) {
    try {
      await pollDueUpgrades({
        store,
        partnerCenter,
        config: pollConfig({ minIntervalMs: MINUTE, timeBudgetMs: 30_000 }),
        telemetry: noTelemetry,
        notify,
        resend: send,
        now: clock,
        random: () => 0,
      });
    } catch {
      // a crash while writing the run's own heartbeat row: the next tick runs again
    }
    await deliver();
    const view = await store.getUpgrade(upgradeId);
    const rows = await trackingRows(tables, 't', upgradeId);
    if (view?.notifiedAt && view.scheduleKey === '' && rows.length === 0) break;
    now += 10 * MINUTE;
  }
  return {
    effects: crash.count,
    view: await store.getUpgrade(upgradeId),
    sent,
    schedule: await trackingRows(tables, 't', upgradeId),
    accepted: await trackingRows(tables, 'a', upgradeId),
    index: (await store.listCustomerUpgrades(customerId)).items,
    upgradeId,
  };
}

function expectInvariants(result: Awaited<ReturnType<typeof scenario>>) {
  const { view, sent, schedule, accepted, index, upgradeId } = result;
  expect(view).toMatchObject({ status: 'Completed', scheduleKey: '' });
  expect(view!.completedAt).toBeDefined();
  expect(view!.notifiedAt).toBeDefined();
  // history: committed rows only, forward-only, no repeats, ending in the final status
  expect(view!.history).toHaveLength(view!.historySeq);
  const ranks = view!.history.map((h) => rankOf(h.status as KnownStatus));
  for (let i = 1; i < ranks.length; i++) expect(ranks[i]).toBeGreaterThan(ranks[i - 1]);
  expect(view!.history.at(-1)!.status).toBe('Completed');
  // at least one notification, all the same event
  expect(sent.length).toBeGreaterThanOrEqual(1);
  expect(new Set(sent.map((n) => n.eventId)).size).toBe(1);
  expect(sent[0]).toMatchObject({ event: 'upgrade.completed', upgradeId });
  // left the schedule (and its accepted row long before), listed once for its customer
  expect(schedule).toEqual([]);
  expect(accepted).toEqual([]);
  expect(index.map((i) => i.upgradeId)).toEqual([upgradeId]);
}

describe('crash-point replay: a crash after any side effect, then the usual retries, ends as no crash', () => {
  let clean: Awaited<ReturnType<typeof scenario>>;

  beforeAll(async () => {
    clean = await scenario(undefined);
  });

  it('the clean run reaches Completed with the full history', () => {
    expectInvariants(clean);
    expect(clean.view!.history.map((h) => h.status)).toEqual(['Pending', 'InProgress', 'Completed']);
    expect(clean.sent).toHaveLength(1);
  });

  it('crashing after each side effect in turn', async () => {
    expect(clean.effects).toBeGreaterThan(10);
    for (let crashAt = 1; crashAt <= clean.effects; crashAt++) {
      const crashed = await scenario(crashAt);
      try {
        expectInvariants(crashed);
      } catch (error) {
        throw new Error(`after a crash at side effect #${crashAt}: ${(error as Error).message}`, { cause: error });
      }
    }
  }, 240_000);
});
