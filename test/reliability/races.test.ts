import { randomBytes, randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import type { ProductUpgrades } from '../../shared/partner-center';
import type { TableKey } from '../../shared/storage/names';
import { Tables } from '../../shared/storage/tables';
import { noTelemetry } from '../../shared/telemetry/telemetry';
import { acceptUpgrade, pollDueUpgrades, startTracking, TrackingStore, type TableSource } from '../../shared/tracking';
import type { UpgradeNotification } from '../../shared/tracking/records';
import { prng, seedFor, type Prng } from './prng';
import type { CustomerSpec } from '../../dev/simulator';
import { Rig, virtualGate } from './rig';

/**
 * Races: two poll runs at once plus concurrent startTracking deliveries (each message delivered 1–3 times) of the
 * same upgrades — half of them accepted first (as the start webhook does, the acceptance racing the deliveries), half
 * known only from the message — with every table operation and Partner Center call delayed by a seeded random
 * amount, so each fast-check run is a different interleaving. After every step the Tracking table (upgrades, history,
 * schedule) equals that of a single sequential run at the same simulated time; at the end every table does, and the
 * same notifications were sent (by event id).
 */
jest.setTimeout(240_000);

const RUNS = Number(process.env.RELIABILITY_RACE_RUNS ?? 6);
const UPGRADES = 10;
const STEP_MS = 31 * 60_000;

const DELAYED = ['createEntity', 'updateEntity', 'upsertEntity', 'deleteEntity', 'getEntity', 'submitTransaction'];

/** Every table operation waits a seeded random 0–maxMs first: the interleaving is the seed's. */
class DelayingTables implements TableSource {
  constructor(
    private readonly inner: TableSource,
    private readonly random: Prng,
    private readonly maxMs: number,
  ) {}
  async get(key: TableKey): Promise<TableClient> {
    const client = await this.inner.get(key);
    return new Proxy(client, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof property !== 'string' || !DELAYED.includes(property) || typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          await delay(this.random.int(this.maxMs + 1));
          return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      },
    });
  }
}

function delayingPartnerCenter(inner: ProductUpgrades, random: Prng, maxMs: number): ProductUpgrades {
  return {
    checkEligibility: (request, options) => inner.checkEligibility(request, options),
    createUpgrade: (request, options) => inner.createUpgrade(request, options),
    async getUpgradeStatus(request, options) {
      await delay(random.int(maxMs + 1));
      return inner.getUpgradeStatus(request, options);
    },
  };
}

function freshTables(label: string): Tables {
  const connectionString = process.env.AzureWebJobsStorage!;
  return new Tables({
    storage: { kind: 'connectionString', connectionString },
    tableNamePrefix: `${label}${randomBytes(4).toString('hex')}`,
  });
}

async function rows(tables: TableSource, key: TableKey): Promise<Record<string, unknown>[]> {
  const client = await tables.get(key);
  const all: Record<string, unknown>[] = [];
  for await (const entity of client.listEntities<Record<string, unknown>>()) {
    const { etag: _etag, timestamp: _timestamp, ...rest } = entity as Record<string, unknown>;
    all.push(rest);
  }
  return all.sort((a, b) =>
    `${String(a.partitionKey)}|${String(a.rowKey)}`.localeCompare(`${String(b.partitionKey)}|${String(b.rowKey)}`),
  );
}

async function state(tables: TableSource, keys: TableKey[]) {
  const result: Partial<Record<TableKey, unknown[]>> = {};
  for (const key of keys) result[key] = await rows(tables, key);
  return result;
}

describe('races: overlapping poll runs and duplicate queue deliveries, randomized interleavings', () => {
  let rig: Rig;

  beforeAll(async () => {
    rig = await Rig.start({ label: 'race', customers: 1, seed: 5 });
  });
  afterAll(async () => rig?.stop());

  /** New customers, their upgrades started through the webhook now: every run sees whole lifecycles. */
  async function freshUpgrades(): Promise<{ upgradeId: string; customerId: string; productFamily: string }[]> {
    const customers: CustomerSpec[] = Array.from({ length: UPGRADES }, (_, i) => ({
      id: randomUUID(),
      outcome: i % 4 === 0 ? 'Failed' : 'Completed',
      durations: { pendingSeconds: 60 + i * 60, inProgressSeconds: 1800 * (1 + (i % 3)) },
    }));
    const messages = [];
    for (const customer of customers) {
      rig.sim.state.addCustomer(customer);
      const { final } = await rig.startUpgradeWithRetries(customer.id);
      expect(final.status).toBe(202);
      messages.push({ upgradeId: String(final.body?.upgradeId), customerId: customer.id, productFamily: 'Azure' });
    }
    return messages;
  }

  it(`${RUNS} interleavings end as one sequential run`, async () => {
    const seed = seedFor('races');
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: UPGRADES, maxLength: UPGRADES }),
        fc.integer({ min: 0, max: 12 }),
        async (delaySeed, deliveries, maxDelayMs) => {
          const messages = await freshUpgrades();
          const random = prng(delaySeed);
          const sequentialTables = freshTables('raceseq');
          const racingTables = freshTables('racecon');
          const sequential = new TrackingStore(sequentialTables);
          const racing = new TrackingStore(new DelayingTables(racingTables, random.fork(), maxDelayMs));
          const pc = rig.services.partnerCenter;
          const racingPc = delayingPartnerCenter(pc, random.fork(), maxDelayMs);
          const sentSequential: UpgradeNotification[] = [];
          const sentRacing: UpgradeNotification[] = [];
          const now = () => rig.clock.now();
          const run = (store: TrackingStore, partnerCenter: ProductUpgrades, sent: UpgradeNotification[]) => {
            const virtual = virtualGate(1000);
            return pollDueUpgrades({
              store,
              partnerCenter,
              config: { ...rig.config.poll, concurrency: 4 },
              telemetry: noTelemetry,
              notify: (n) => {
                sent.push(n);
                return Promise.resolve();
              },
              resend: () => Promise.resolve(),
              now,
              random: () => 0.5,
              gate: virtual.gate,
              clock: virtual.clock,
            });
          };
          rig.syncClock();
          const track = { firstPollDelayMs: 0, now };
          const accepted = messages.filter((_, i) => i % 2 === 0);
          const accept = (store: TrackingStore) =>
            Promise.all(accepted.map((m) => acceptUpgrade({ store, send: () => Promise.resolve(), now }, m)));
          await accept(sequential);
          // the messages of upgrades not accepted first are verified with Partner Center, in both worlds
          for (const message of messages) {
            await startTracking(message, { store: sequential, partnerCenter: pc, ...track });
          }
          const deliver = () =>
            Promise.all(
              messages.flatMap((message, i) =>
                Array.from({ length: deliveries[i] }, () =>
                  startTracking(message, { store: racing, partnerCenter: racingPc, ...track }),
                ),
              ),
            );
          // acceptances and first deliveries race each other; then duplicates keep arriving while two runs overlap
          // (a poll that starts before any delivery could not see the upgrade at all, in either world)
          await Promise.all([accept(racing), deliver()]);
          await Promise.all([deliver(), run(racing, racingPc, sentRacing), run(racing, racingPc, sentRacing)]);
          // the sequential twin of that first step: one poll after tracking
          await run(sequential, pc, sentSequential);
          for (let step = 0; step < 4; step++) {
            rig.clock.advance(STEP_MS);
            await run(sequential, pc, sentSequential);
            await Promise.all([run(racing, racingPc, sentRacing), run(racing, racingPc, sentRacing), deliver()]);
            const perStep: TableKey[] = ['tracking'];
            expect({ delaySeed, step, actual: await state(racingTables, perStep) }).toEqual({
              delaySeed,
              step,
              actual: await state(sequentialTables, perStep),
            });
          }
          // a last pair of runs, then every table
          rig.clock.advance(STEP_MS);
          await run(sequential, pc, sentSequential);
          await Promise.all([run(racing, racingPc, sentRacing), run(racing, racingPc, sentRacing)]);
          const keys: TableKey[] = ['tracking', 'customerUpgrades'];
          const expected = await state(sequentialTables, keys);
          const actual = await state(racingTables, keys);
          const ids = (sent: UpgradeNotification[]) => [...new Set(sent.map((n) => n.eventId))].sort();
          expect({ delaySeed, actual, events: ids(sentRacing) }).toEqual({
            delaySeed,
            actual: expected,
            events: ids(sentSequential),
          });
          expect(ids(sentSequential).length).toBeGreaterThan(0);
        },
      ),
      { seed, numRuns: RUNS, endOnFailure: true },
    );
  });
});
