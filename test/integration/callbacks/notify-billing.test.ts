import { QueueClient } from '@azure/storage-queue';
import { eventually } from '../../helpers/local-host';
import { sendQueueMessage } from '../../../shared/queues/producer';
import { QUEUES } from '../../../shared/storage/names';
import { isFinal } from '../../../shared/tracking';
import { readCallbackRecord } from '../../helpers/callback-records';
import { customerId, startHarness, type Harness } from './harness';
import { listRejectedMessages } from '../../helpers/tracking-tables';
import { newSigningSecret } from '../../../shared/webhooks/signing';

const SECRET = newSigningSecret();
const OK = customerId(0x101);
const FLAKY = customerId(0x102);
const REFUSES = customerId(0x103);
const DUPLICATE = customerId(0x104);
const DOWN = customerId(0x105);
const FAILED = customerId(0x106);

/**
 * Billing callbacks end to end: simulator → POST /api/upgrades → pollUpgrades (admin API) → upgrade-notifications
 * → notifyBillingSystem → a receiver that verifies the signature; retries, rejections, duplicates and poison.
 */
describe('billing callbacks on the local host', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      callbackSecret: SECRET,
      customers: [
        { id: OK, legacySubscriptions: 2 },
        { id: FLAKY },
        { id: REFUSES },
        { id: DUPLICATE },
        { id: DOWN },
        { id: FAILED, outcome: 'Failed', errorDetails: { code: '900200', description: 'The upgrade failed' } },
      ],
    });
  }, 60_000);
  afterAll(async () => h?.stop());

  /** Starts the upgrade, lets the simulator finish it, and polls until the app has it final. */
  async function finish(customer: string): Promise<string> {
    const upgradeId = await h.startUpgrade(customer);
    h.clock.advance(60_000);
    await h.tracked(upgradeId);
    for (let run = 0; run < 20; run++) {
      await h.triggerPoll();
      // A run that found it not yet due (or busy): another one.
      const found = await h.services.tracking.readUpgrade(upgradeId);
      if (found && isFinal(found.record.status)) return upgradeId;
    }
    throw new Error(`upgrade ${upgradeId} is not final after 20 poll runs`);
  }

  /**
   * Waits until nothing more can be sent: the notifications queue holds no message, visible or waiting for a retry
   * (the host deletes a message once its invocation has finished), so absence can be asserted without waiting on time.
   */
  async function drained(queue = h.services.queues.upgradeNotifications): Promise<void> {
    await eventually(async () => ((await queue.getProperties()).approximateMessagesCount === 0 ? true : undefined));
  }

  it('a finished upgrade produces exactly one verified callback with its line items', async () => {
    const upgradeId = await finish(OK);
    const [callback] = await eventually(() =>
      h.receiver.for(upgradeId).length > 0 ? h.receiver.for(upgradeId) : undefined,
    );
    expect(callback.verified).toBe(true);
    expect(callback.body).toMatchObject({
      event: 'upgrade.completed',
      upgradeId,
      customerId: OK,
      status: 'Completed',
    });
    expect(callback.body.lineItems).toHaveLength(2);
    expect(typeof callback.body.completedAt).toBe('string');
    expect(callback.headers['webhook-id']).toBe(callback.body.eventId);
    expect(Object.keys(callback.body).sort()).toEqual(
      ['completedAt', 'customerId', 'event', 'eventId', 'lineItems', 'status', 'upgradeId'].sort(),
    );
    await drained();
    expect(h.receiver.for(upgradeId)).toHaveLength(1);
    expect(await readCallbackRecord(h.services.tables, upgradeId, callback.body.eventId)).toMatchObject({
      outcome: 'delivered',
      status: 200,
      attempt: 1,
    });
    expect(h.telemetry.named('CallbackDelivered').some((e) => e.properties.upgradeId === upgradeId)).toBe(true);
  });

  it('a failed upgrade is reported as upgrade.failed', async () => {
    const upgradeId = await finish(FAILED);
    const [callback] = await eventually(() =>
      h.receiver.for(upgradeId).length > 0 ? h.receiver.for(upgradeId) : undefined,
    );
    expect(callback).toMatchObject({ verified: true, body: { event: 'upgrade.failed', status: 'Failed', upgradeId } });
  });

  it('503 twice: retried with growing delays, then exactly one delivery', async () => {
    h.receiver.script(FLAKY, [503, 503]);
    const upgradeId = await finish(FLAKY);
    const attempts = await eventually(() => {
      const got = h.receiver.for(upgradeId);
      return got.some((r) => r.answered === 200) ? got : undefined;
    }, 20_000);
    expect(attempts.map((a) => a.answered)).toEqual([503, 503, 200]);
    expect(attempts.every((a) => a.verified)).toBe(true);
    expect(new Set(attempts.map((a) => a.body.eventId)).size).toBe(1);
    // CALLBACK_RETRY_BASE_SECONDS=1: the first retry waits at least 1 s, the second at least 2 s.
    const gaps = [attempts[1].at - attempts[0].at, attempts[2].at - attempts[1].at];
    expect(gaps[0]).toBeGreaterThanOrEqual(900);
    expect(gaps[1]).toBeGreaterThanOrEqual(1900);
    await drained();
    expect(h.receiver.for(upgradeId).filter((r) => r.answered === 200)).toHaveLength(1);
    expect(await readCallbackRecord(h.services.tables, upgradeId, attempts[0].body.eventId)).toMatchObject({
      outcome: 'delivered',
      attempt: 3,
    });
  });

  it('a 400 from the receiver is recorded as rejected and not retried', async () => {
    h.receiver.script(REFUSES, [400]);
    const upgradeId = await finish(REFUSES);
    const [callback] = await eventually(() =>
      h.receiver.for(upgradeId).length > 0 ? h.receiver.for(upgradeId) : undefined,
    );
    const record = await eventually(async () => {
      const found = await readCallbackRecord(h.services.tables, upgradeId, callback.body.eventId);
      return found?.outcome === 'rejected' ? found : undefined;
    });
    expect(record).toMatchObject({ status: 400, attempt: 1 });
    expect(record.error).toContain('HTTP 400');
    expect(record.error).not.toContain('receiver-key'); // the URL's query (a key) stays out of the record
    await drained(); // a retry would be a message waiting in the queue
    expect(h.receiver.for(upgradeId)).toHaveLength(1);
    expect(h.telemetry.named('CallbackRejected').some((e) => e.properties.upgradeId === upgradeId)).toBe(true);
  });

  it('a duplicate notification for a delivered event does not POST again', async () => {
    const upgradeId = await finish(DUPLICATE);
    const [callback] = await eventually(() =>
      h.receiver.for(upgradeId).length > 0 ? h.receiver.for(upgradeId) : undefined,
    );
    await eventually(async () =>
      (await readCallbackRecord(h.services.tables, upgradeId, callback.body.eventId))?.outcome === 'delivered'
        ? true
        : undefined,
    );
    const { eventId, event, customerId: customer, status, completedAt } = callback.body;
    await sendQueueMessage(h.services.queues.upgradeNotifications, {
      eventId,
      event,
      upgradeId,
      customerId: customer,
      status,
      completedAt,
    });
    // The repeated message is taken and settled (the queue drains) without a second POST.
    await drained();
    expect(h.receiver.for(upgradeId)).toHaveLength(1);
  });

  it('an invalid message is recorded in RejectedMessages once and not retried', async () => {
    const before = h.invocations.length;
    await sendQueueMessage(h.services.queues.upgradeNotifications, { eventId: 'not-a-guid', upgradeId: 42 });
    const rows = await eventually(async () => {
      const found = await listRejectedMessages(h.services.tables, QUEUES.upgradeNotifications);
      return found.length > 0 ? found : undefined;
    });
    expect(rows).toEqual([expect.objectContaining({ kind: 'invalid', reason: 'eventId must be a GUID' })]);
    await drained();
    // Its one delivery ended well: a failed one would have put it back for a retry.
    const deliveries = h.invocations.slice(before).filter((i) => i.functionName === 'notifyBillingSystem');
    expect(deliveries.map((i) => i.outcome)).toEqual(['Succeeded']);
  });

  it('a receiver that stays down: poisoned after the last attempt, recorded, PoisonMessage emitted', async () => {
    h.receiver.script(DOWN, [503, 503, 503, 503, 503]);
    const upgradeId = await finish(DOWN);
    const rows = await eventually(async () => {
      const found = await listRejectedMessages(h.services.tables, `${QUEUES.upgradeNotifications}-poison`);
      return found.some((r) => r.message.includes(upgradeId)) ? found : undefined;
    }, 20_000);
    expect(rows.find((r) => r.message.includes(upgradeId))).toMatchObject({ kind: 'poison' });
    const attempts = h.receiver.for(upgradeId);
    expect(attempts).toHaveLength(3); // CALLBACK_MAX_ATTEMPTS
    expect(await readCallbackRecord(h.services.tables, upgradeId, attempts[0].body.eventId)).toMatchObject({
      outcome: 'poisoned',
      status: 503,
      attempt: 3,
    });
    expect(h.telemetry.named('CallbackFailed').some((e) => e.properties.upgradeId === upgradeId)).toBe(true);
    expect(h.telemetry.named('PoisonMessage').filter((e) => e.properties.upgradeId === upgradeId)).toHaveLength(1);
  });

  it('a message the host gave up on (upgrade-tracking-poison) is recorded and alerted', async () => {
    const poison = new QueueClient(h.settings.AzureWebJobsStorage, `${QUEUES.upgradeTracking}-poison`);
    const upgradeId = '11111111-2222-4333-8444-555555555555';
    await sendQueueMessage(poison, { upgradeId, customerId: OK, productFamily: 'Azure' });
    const rows = await eventually(async () => {
      const found = await listRejectedMessages(h.services.tables, `${QUEUES.upgradeTracking}-poison`);
      return found.length > 0 ? found : undefined;
    });
    expect(rows).toEqual([expect.objectContaining({ kind: 'poison' })]);
    expect(JSON.parse(rows[0].message)).toMatchObject({ upgradeId });
    expect(h.telemetry.named('PoisonMessage')).toContainEqual(
      expect.objectContaining({ properties: expect.objectContaining({ upgradeId, queue: 'upgrade-tracking-poison' }) }),
    );
    await drained(poison); // completed, not retried
    expect(await listRejectedMessages(h.services.tables, `${QUEUES.upgradeTracking}-poison`)).toHaveLength(1);
  });
});
