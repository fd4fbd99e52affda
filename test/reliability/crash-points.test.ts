import { randomUUID } from 'node:crypto';
import type { QueueClient } from '@azure/storage-queue';
import type { ProductUpgrades } from '../../shared/partner-center';
import type { UpgradeView } from '../../shared/tracking';
import { RESERVATION_LEASE_MS } from '../../shared/webhooks';
import { overrideMethods, WRITE_METHODS, wrapTables } from './faults';
import { Rig, type WebhookResult } from './rig';

/**
 * Crash points across the whole life of one upgrade, through the real functions: the start webhook (webhook-id
 * reservation, eligibility record, Partner Center create, the acceptance transaction, CustomerUpgrades row, tracking
 * enqueue, stored answer), startTracking (its one transaction), the poll runs (heartbeat, claim, commit transaction,
 * notification enqueue) and the callback job. Every side effect is counted;
 * for each k the k-th one "crashes" (throws right after it landed), and the world replays as it would: the billing
 * system retries the webhook with the same webhook-id, the queue redelivers, the timer runs again. The end
 * state is the one without a crash: one upgrade in Partner Center, tracked once, final as the simulator says, history
 * forward-only, out of the schedule, its callback delivered exactly once, and the webhook's replay naming it.
 */
jest.setTimeout(300_000);

const RESTART_AFTER_CRASH_MS = 6 * 60_000;

class CrashSwitch {
  count = 0;
  crashAt: number | undefined;
  armed = false;
  readonly log: string[] = [];
  async effect<T>(name: string, action: () => Promise<T>): Promise<T> {
    const result = await action();
    if (this.armed) {
      this.count++;
      this.log.push(name);
      if (this.count === this.crashAt) {
        // A crashed worker's message comes back only after its visibility timeout, and the restart takes time too:
        // by then the leases the dead invocation held (webhook-id reservation, callback send claim) have passed.
        wallClockOffset += RESTART_AFTER_CRASH_MS;
        throw new Error(`crash after side effect #${this.count} (${name})`);
      }
    }
    return result;
  }
}

const crash = new CrashSwitch();

/**
 * Wall-clock time as the app reads it (Date.now), movable forward: a crashed request's webhook-id reservation is
 * taken over only after its 5-minute lease, which the caller's retries would span in real life.
 */
let wallClockOffset = 0;
const realNow = Date.now.bind(Date);
jest.spyOn(Date, 'now').mockImplementation(() => realNow() + wallClockOffset);
/** The billing system's clock moves with the app's: it signs with the time the signature check reads. */
const signedAt = () => Math.floor(Date.now() / 1000);

function crashingPartnerCenter(inner: ProductUpgrades): ProductUpgrades {
  return {
    checkEligibility: (request, options) => inner.checkEligibility(request, options),
    createUpgrade: (request, options) =>
      crash.effect('partner-center create', () => inner.createUpgrade(request, options)),
    getUpgradeStatus: (request, options) => inner.getUpgradeStatus(request, options),
  };
}

/** Tracking messages the queue accepts and then loses (never delivered), counted down. */
const lose = { trackingMessages: 0 };

function crashingQueue(queue: QueueClient): QueueClient {
  return new Proxy(queue, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== 'sendMessage' || typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        crash.effect(`enqueue ${target.name}`, () => {
          if (target.name.endsWith('-track') && lose.trackingMessages > 0) {
            lose.trackingMessages--;
            return Promise.resolve({});
          }
          return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        });
    },
  });
}

interface Outcome {
  effects: number;
  names: string[];
  view: UpgradeView | undefined;
  truthStatus: string | undefined;
  upgradesInPartnerCenter: number;
  delivered: number[];
  replay: WebhookResult;
  upgradeId: string | undefined;
  webhookStatuses: number[];
  problems: string[];
}

describe('crash-point replay across start-upgrade, start-tracking, the poll run and the callback', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await Rig.start({
      label: 'crash',
      customers: 1,
      seed: 3,
      wrapTables: (tables) =>
        wrapTables(tables, (key, client) =>
          overrideMethods(
            client,
            Object.fromEntries(
              WRITE_METHODS.map((method) => [
                method,
                (original: (...args: unknown[]) => Promise<unknown>, args: unknown[]) =>
                  crash.effect(`${key}.${method}`, () => original(...args)),
              ]),
            ),
          ),
        ),
      wrapPartnerCenter: crashingPartnerCenter,
      wrapQueue: crashingQueue,
    });
  });
  afterAll(async () => rig?.stop());

  async function life(crashAt: number | undefined, tracking: { duplicate?: number } = {}): Promise<Outcome> {
    const customerId = randomUUID();
    rig.sim.state.addCustomer({ id: customerId, durations: { pendingSeconds: 60, inProgressSeconds: 600 } });
    crash.count = 0;
    crash.log.length = 0;
    crash.crashAt = crashAt;
    crash.armed = true;
    const body = { customerId, productFamily: 'Azure' };
    const key = `crash-${customerId}`;
    const webhookStatuses: number[] = [];
    const problems: string[] = [];
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        const answer = await rig.webhook('upgrades', body, { webhookId: key, signedAt: signedAt() });
        webhookStatuses.push(answer.status);
        if (answer.status === 202 || (answer.status === 409 && answer.body?.upgradeId)) break;
        if (answer.body?.type === 'urn:azure-plan-upgrades:problem:request-in-progress') {
          // the crashed request still holds the key: the caller keeps retrying until its lease has passed
          wallClockOffset += RESERVATION_LEASE_MS + 1_000;
        }
      }
      await rig.pumpTracking(tracking);
      await rig.runToEnd(8);
    } finally {
      crash.armed = false;
    }
    problems.push(...(await rig.truthDiff()));
    const replay = await rig.webhook('upgrades', body, { webhookId: key, signedAt: signedAt() });
    const truths = rig.sim.state.listUpgrades({ customerId });
    const upgradeId = truths[0]?.id.toLowerCase();
    const view = upgradeId ? await rig.services.tracking.getUpgrade(upgradeId) : undefined;
    const eventIds = new Set(
      rig.receiver.received.filter((d) => d.body.upgradeId === upgradeId).map((d) => d.body.eventId),
    );
    return {
      effects: crash.count,
      names: [...crash.log],
      view,
      truthStatus: truths[0]?.status,
      upgradesInPartnerCenter: truths.length,
      delivered: [...eventIds].map((e) => rig.receiver.delivered().get(e) ?? 0),
      replay,
      upgradeId,
      webhookStatuses,
      problems,
    };
  }

  /** What "the same end state" means, compared field by field with the clean run. */
  function endState(outcome: Outcome) {
    const { view } = outcome;
    return {
      upgradesInPartnerCenter: outcome.upgradesInPartnerCenter,
      status: view?.status,
      truthStatus: outcome.truthStatus,
      // which intermediate statuses a poll happens to see depends on timing; the history ends in the final one
      // and only moves forward (the whole table against the simulator: truthDiff)
      lastHistory: view?.history.at(-1)?.status,
      outOfSchedule: view?.scheduleKey === '',
      notified: Boolean(view?.notifiedAt),
      delivered: outcome.delivered,
      agreesWithTruth: outcome.problems,
      webhookNeverFailedHard: outcome.webhookStatuses.every((s) => s !== 500),
      replayNamesTheUpgrade:
        (outcome.replay.status === 202 || outcome.replay.status === 409) &&
        outcome.upgradeId !== undefined &&
        outcome.replay.body?.upgradeId === outcome.upgradeId,
    };
  }

  it('a crash after any side effect, then the usual replays, ends as no crash', async () => {
    const clean = await life(undefined);
    console.log(`[reliability] crash points: ${clean.effects} side effects in one life: ${clean.names.join(', ')}`);
    const expected = endState(clean);
    expect(expected).toMatchObject({
      upgradesInPartnerCenter: 1,
      status: 'Completed',
      truthStatus: 'Completed',
      outOfSchedule: true,
      notified: true,
      delivered: [1],
      replayNamesTheUpgrade: true,
    });
    expect(clean.effects).toBeGreaterThan(15);
    for (let crashAt = 1; crashAt <= clean.effects; crashAt++) {
      const crashed = await life(crashAt);
      const point = `crash after #${crashAt} (${crashed.names[crashAt - 1] ?? '?'}); webhook answers ${crashed.webhookStatuses.join(',')}`;
      expect({ point, state: endState(crashed) }).toEqual({ point, state: expected });
    }
  });

  it('a tracking message lost after it was sent, or delivered twice, ends as no crash too', async () => {
    const expected = endState(await life(undefined));
    // Lost: the upgrade waits, accepted, until a poll run re-sends its message; startTracking then starts it.
    lose.trackingMessages = 1;
    const runsBefore = rig.runs.length;
    const lost = await life(undefined);
    expect(lose.trackingMessages).toBe(0);
    expect(endState(lost)).toEqual(expected);
    expect(rig.runs.slice(runsBefore).reduce((n, run) => n + run.recovered, 0)).toBe(1);
    // Duplicated: the second delivery finds the tracking started and changes nothing.
    expect(endState(await life(undefined, { duplicate: 1 }))).toEqual(expected);
  });
});
