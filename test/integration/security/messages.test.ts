import { randomUUID } from 'node:crypto';
import { notificationEventId } from '../../../shared/callbacks/events';
import { QUEUES } from '../../../shared/storage/names';
import { isFinal } from '../../../shared/tracking';
import { eventually } from '../../helpers/local-host';
import { customerId, startHarness, type Harness } from '../callbacks/harness';
import { listRejectedMessages } from '../../helpers/tracking-tables';
import { newSigningSecret } from '../../../shared/webhooks/signing';

/**
 * Trust no queue message. Whoever can write to the app's queues (a leaked storage credential, a mistaken tool) must
 * not make it send a signed callback or follow an upgrade it never started. The real app on the local host: its
 * queue triggers (startTracking, notifyBillingSystem and the poison recorder), the poller, the simulator over
 * loopback HTTP, a private Azurite, and a billing receiver that verifies every signature.
 */

const SECRET = newSigningSecret();
const FORGED_AGAINST = customerId(0x301); // its upgrade is still InProgress when the forgeries arrive
const FINISHED = customerId(0x302); // its upgrade is Completed, its callback delivered
const BYSTANDER = customerId(0x303);
const UNRECORDED = customerId(0x304); // has an upgrade in Partner Center this app did not record

describe('security: forged queue messages send nothing and track nothing', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      callbackSecret: SECRET,
      customers: [{ id: FORGED_AGAINST }, { id: FINISHED }, { id: BYSTANDER }, { id: UNRECORDED }],
    });
  }, 60_000);
  afterAll(async () => h?.stop());

  /** Starts an upgrade through the webhook and runs its tracking message through the queue trigger. */
  async function started(customer: string): Promise<string> {
    const upgradeId = await h.startUpgrade(customer);
    await h.host.runFunction(
      'startTracking',
      JSON.stringify({ upgradeId, customerId: customer, productFamily: 'Azure' }),
    );
    return upgradeId;
  }

  /** Waits until no notification is left to send, visible or waiting for a retry: absence can then be asserted. */
  async function drained(): Promise<void> {
    const queue = h.services.queues.upgradeNotifications;
    await eventually(async () => ((await queue.getProperties()).approximateMessagesCount === 0 ? true : undefined));
  }

  const rejected = (queue: string) => listRejectedMessages(h.services.tables, queue);

  /** A notification as the poller writes it: consistent in itself, so only the upgrade's row can tell it is false. */
  function notification(upgradeId: string, customer: string, status: 'Completed' | 'Failed') {
    return {
      eventId: notificationEventId(upgradeId, status),
      event: status === 'Completed' ? 'upgrade.completed' : 'upgrade.failed',
      upgradeId,
      customerId: customer,
      status,
      completedAt: new Date().toISOString(),
    };
  }

  it('two forged "completed" notifications for an upgrade still InProgress send no callback; its own is sent once', async () => {
    // The finding: on the code before the callback job read the upgrade row, each of these messages was
    // posted as it was, signed: two upgrade.completed callbacks for an upgrade still in progress.
    const upgradeId = await started(FORGED_AGAINST);
    h.clock.advance(6_000); // Pending → InProgress in the simulator
    await h.host.runFunction('pollUpgrades');
    expect((await h.services.tracking.readUpgrade(upgradeId))?.record.status).toBe('InProgress');

    const forged = JSON.stringify(notification(upgradeId, FORGED_AGAINST, 'Completed'));
    await h.host.runFunction('notifyBillingSystem', forged);
    await h.host.runFunction('notifyBillingSystem', forged);
    // Checked again later (a genuine one may arrive just before its row is final), bounded, then given up on and
    // recorded: the copies reach the poison queue and its recorder.
    await eventually(async () => {
      const poisoned = await rejected(`${QUEUES.upgradeNotifications}-poison`);
      return poisoned.filter((r) => r.message.includes(upgradeId)).length > 0 ? true : undefined;
    });
    await drained();
    expect(h.receiver.for(upgradeId)).toEqual([]);

    // The upgrade really completes: exactly one callback, its own.
    h.clock.advance(60_000);
    await h.host.runFunction('pollUpgrades');
    expect(isFinal((await h.services.tracking.readUpgrade(upgradeId))!.record.status)).toBe(true);
    await drained();
    const sent = h.receiver.for(upgradeId).filter((r) => r.answered < 300);
    expect(sent.map((r) => [r.verified, r.body.event, r.body.status])).toEqual([
      [true, 'upgrade.completed', 'Completed'],
    ]);
  }, 60_000);

  it('forged notifications for a final upgrade (wrong event id, wrong status, another customer) or none send nothing and are recorded', async () => {
    const upgradeId = await started(FINISHED);
    h.clock.advance(60_000);
    await h.host.runFunction('pollUpgrades');
    await drained();
    expect(h.receiver.for(upgradeId).filter((r) => r.answered < 300)).toHaveLength(1);

    const genuine = notification(upgradeId, FINISHED, 'Completed');
    const nobody = randomUUID();
    const forgeries = {
      'an event id of no event': { ...genuine, eventId: randomUUID() },
      'an event that is not the one of its status': { ...genuine, event: 'upgrade.failed' },
      'another status, consistent in itself': notification(upgradeId, FINISHED, 'Failed'),
      'another customer': { ...genuine, customerId: BYSTANDER },
      'an upgrade that does not exist': notification(nobody, FINISHED, 'Completed'),
    };
    for (const message of Object.values(forgeries)) {
      await h.host.runFunction('notifyBillingSystem', JSON.stringify(message));
    }
    await drained();
    expect(h.receiver.for(upgradeId).filter((r) => r.answered < 300)).toHaveLength(1);
    expect(h.receiver.for(nobody)).toEqual([]);
    const recorded = await rejected(QUEUES.upgradeNotifications);
    for (const [name, message] of Object.entries(forgeries)) {
      expect({ name, recorded: recorded.some((r) => r.message === JSON.stringify(message)) }).toEqual({
        name,
        recorded: true,
      });
    }
  }, 60_000);

  it('a forged tracking message for an upgrade Partner Center does not know: no row, no poll, no callback; recorded', async () => {
    // On the code before startTracking asked Partner Center, this message created the upgrade's row and its schedule
    // entry: every poll run then asked Partner Center about it, and after POLL_MAX_AGE_DAYS a signed upgrade.stale
    // callback went out for an upgrade that never existed.
    const upgradeId = randomUUID();
    const forged = { upgradeId, customerId: BYSTANDER, productFamily: 'Azure' };
    const before = h.sim.state.counters().requests.status?.byStatus ?? {};
    await h.host.runFunction('startTracking', JSON.stringify(forged));
    expect(await h.services.tracking.getUpgrade(upgradeId)).toBeUndefined();
    expect((await h.services.tracking.listCustomerUpgrades(BYSTANDER)).items).toEqual([]);
    const unverified = (await rejected(QUEUES.upgradeTracking)).filter((r) => r.kind === 'unverified');
    expect(unverified.filter((r) => r.message.includes(upgradeId))).toHaveLength(1);

    // One status call verified it (Partner Center's 404); the poller never asks about it.
    h.clock.advance(60_000);
    await h.host.runFunction('pollUpgrades');
    const after = h.sim.state.counters().requests.status?.byStatus ?? {};
    expect((after['404'] ?? 0) - (before['404'] ?? 0)).toBe(1);
    await drained();
    expect(h.receiver.for(upgradeId)).toEqual([]);
  }, 60_000);

  it('a tracking message naming another customer for an upgrade this app did not record is refused (900111); its own customer is tracked', async () => {
    // Created in Partner Center by someone else (the portal, another tool): Partner Center vouches for it, but only
    // for its own customer.
    const { upgradeId } = await h.services.partnerCenter.createUpgrade({
      customerId: UNRECORDED,
      productFamily: 'Azure',
    });
    await h.host.runFunction(
      'startTracking',
      JSON.stringify({ upgradeId, customerId: BYSTANDER, productFamily: 'Azure' }),
    );
    expect(await h.services.tracking.getUpgrade(upgradeId)).toBeUndefined();
    const unverified = (await rejected(QUEUES.upgradeTracking)).filter((r) => r.kind === 'unverified');
    expect(unverified.some((r) => r.message.includes(upgradeId) && r.reason.includes('900111'))).toBe(true);

    await h.host.runFunction(
      'startTracking',
      JSON.stringify({ upgradeId, customerId: UNRECORDED, productFamily: 'Azure' }),
    );
    expect(await h.services.tracking.getUpgrade(upgradeId)).toMatchObject({ upgradeId, customerId: UNRECORDED });
  }, 60_000);
});
