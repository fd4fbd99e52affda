import { randomUUID } from 'node:crypto';
import { simulatorToken, startHostedStack, type HostedStack } from '../../../dev/stack';
import type { ProductUpgrades } from '../../../shared/partner-center';
import type { TableKey } from '../../../shared/storage/names';
import { documentedCalls } from '../../helpers/api';
import { latch, type Latch } from '../../helpers/latch';
import { wrapWrites } from '../../reliability/faults';
import { eligible, failing, INELIGIBLE, UNKNOWN_CUSTOMER } from './customers';

/**
 * Partner Center calls and table writes the app makes, as events a test can wait on: the next call of an operation
 * can be held until the test releases it, and a write to a table resolves whoever waits for it.
 */
class Watch {
  private readonly holds = new Map<string, { arrived: Latch; release: Latch }>();
  private readonly writes: { key: TableKey; landed: Latch }[] = [];

  /** Holds the next call of `operation` at Partner Center's door: `arrived` when it is made, sent on `release()`. */
  hold(operation: keyof ProductUpgrades): { arrived: Promise<void>; release(): void } {
    const held = { arrived: latch(), release: latch() };
    this.holds.set(operation, held);
    return { arrived: held.arrived.promise, release: () => held.release.open() };
  }

  /** Resolves when the next write to this table has landed. */
  written(key: TableKey): Promise<void> {
    const landed = latch();
    this.writes.push({ key, landed });
    return landed.promise;
  }

  partnerCenter(client: ProductUpgrades): ProductUpgrades {
    const through =
      <A extends unknown[], R>(operation: keyof ProductUpgrades, call: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        const held = this.holds.get(operation);
        if (held) {
          this.holds.delete(operation);
          held.arrived.open();
          await held.release.promise;
        }
        return call(...args);
      };
    return {
      checkEligibility: through('checkEligibility', (request, options) => client.checkEligibility(request, options)),
      createUpgrade: through('createUpgrade', (request, options) => client.createUpgrade(request, options)),
      getUpgradeStatus: through('getUpgradeStatus', (request, options) => client.getUpgradeStatus(request, options)),
    };
  }

  tables(tables: Parameters<typeof wrapWrites>[0]): ReturnType<typeof wrapWrites> {
    return wrapWrites(tables, async (key, _method, write) => {
      const result = await write();
      for (const waiter of this.writes.filter((w) => w.key === key)) {
        this.writes.splice(this.writes.indexOf(waiter), 1);
        waiter.landed.open();
      }
      return result;
    });
  }
}

/**
 * The eligibility and start-upgrade webhooks through real HTTP into the real app, against the simulator and
 * Azurite: what the billing system sees, what Partner Center receives, and what the tables then say.
 */
describe('eligibility and start-upgrade webhooks', () => {
  let stack: HostedStack;
  const watch = new Watch();

  beforeAll(async () => {
    stack = await startHostedStack({
      tablePrefix: 'apiupg',
      settings: { PARTNER_CENTER_TIMEOUT_SECONDS: '5', PARTNER_CENTER_MAX_ATTEMPTS: '2' },
      services: ({ tables, partnerCenter }) => ({
        tables: watch.tables(tables),
        partnerCenter: watch.partnerCenter(partnerCenter),
      }),
    });
  });
  afterAll(async () => stack?.stop());
  afterEach(() => stack.sim.state.clearFaults());

  const api = documentedCalls(() => stack);
  /** A signed POST, with this webhook-id (default a new one). */
  const call = (path: string, body: object, webhookId?: string) => api.post(path, body, { webhookId });
  const read = api.get;

  const upgradesOf = (customerId: string) => stack.sim.state.listUpgrades({ customerId });
  const creates = (): number => stack.sim.state.counters().requests.create?.total ?? 0;

  it('eligibility: 200 with what Partner Center said, recorded', async () => {
    const response = await call('/eligibility', { customerId: eligible(1) });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ customerId: eligible(1), productFamily: 'Azure', isEligible: true });
    expect(response.body).not.toHaveProperty('reason');
  });

  it.each(INELIGIBLE)(
    'eligibility: not eligible ($kind) with Partner Center reason',
    async ({ customerId, reason }) => {
      const response = await call('/eligibility', { customerId });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ customerId, isEligible: false, reason: expect.stringMatching(reason) });
    },
  );

  it.each(INELIGIBLE)(
    'start: 422 not-eligible ($kind) with Partner Center reason, nothing created',
    async ({ customerId, reason }) => {
      const before = creates();
      const response = await call('/upgrades', { customerId });
      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({
        type: 'urn:azure-plan-upgrades:problem:not-eligible',
        reason: expect.stringMatching(reason),
      });
      expect(creates()).toBe(before);
      expect(upgradesOf(customerId)).toHaveLength(0);
    },
  );

  it.each(['/eligibility', '/upgrades'])(
    '%s: a Partner Center business-rule error is 422 carrying its code and description',
    async (path) => {
      const response = await call(path, { customerId: UNKNOWN_CUSTOMER });
      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({
        type: 'urn:azure-plan-upgrades:problem:partner-center-rejected',
        partnerCenterCode: 20002,
        partnerCenterDescription: expect.stringMatching(/relationship/),
      });
    },
  );

  it('start: 202 with Location and state; the upgrade is created once, recorded and enqueued for tracking', async () => {
    const customerId = eligible(2);
    const response = await call('/upgrades', { customerId });
    expect(response.status).toBe(202);
    const body = response.body as { upgradeId: string; status: string };
    expect(response.headers.location).toBe(`/api/upgrades/${body.upgradeId}`);
    expect(body).toMatchObject({ customerId, productFamily: 'Azure', status: 'Pending', isFinal: false });
    expect(upgradesOf(customerId).map((u) => u.id)).toEqual([body.upgradeId]);

    const detail = await read(response.headers.location.replace(/^\/api/, ''));
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ upgradeId: body.upgradeId, customerId, status: 'Pending', attempts: 0 });
    // The queue trigger (startTracking) consumed the tracking message and started the upgrade's tracking: it has a
    // poll due in the schedule.
    await stack.tracked(body.upgradeId);
    const tracked = (await stack.services.tracking.readUpgrade(body.upgradeId))!.record;
    expect(tracked).toMatchObject({ upgradeId: body.upgradeId, customerId, status: 'Pending' });
    expect(tracked.scheduleKey).not.toBe('');
    const list = await read(`/customers/${customerId}/upgrades`);
    expect(list.status).toBe(200);
    expect((list.body as { items: { upgradeId: string }[] }).items.map((i) => i.upgradeId)).toEqual([body.upgradeId]);
  });

  it('start: 409 with Location when the customer already has an upgrade; eligibility names it', async () => {
    const customerId = eligible(3);
    const first = await call('/upgrades', { customerId });
    expect(first.status).toBe(202);
    const upgradeId = (first.body as { upgradeId: string }).upgradeId;

    const second = await call('/upgrades', { customerId });
    expect(second.status).toBe(409);
    expect(second.headers.location).toBe(`/api/upgrades/${upgradeId}`);
    expect(second.body).toMatchObject({ type: 'urn:azure-plan-upgrades:problem:conflict', upgradeId });
    expect(upgradesOf(customerId)).toHaveLength(1);

    const check = await call('/eligibility', { customerId });
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({ isEligible: false, upgradeId });
  });

  it('eligibility: an upgrade Partner Center reports (started elsewhere) becomes tracked', async () => {
    const customerId = failing(1);
    // Started behind the app's back: straight at the simulator, as the Partner Center portal would.
    const token = await simulatorToken(stack.sim);
    const created = await fetch(`${stack.sim.url}/v1/productUpgrades`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customerId, productFamily: 'Azure' }),
    });
    expect(created.status).toBe(202);
    const upgradeId = (created.headers.get('location') ?? '').split('/').pop()!;

    expect((await read(`/upgrades/${upgradeId}`)).status).toBe(404);
    const check = await call('/eligibility', { customerId });
    expect(check.body).toMatchObject({ isEligible: false, upgradeId });
    const detail = await read(`/upgrades/${upgradeId}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ upgradeId, customerId });
  });

  it('webhook-id: a repeat gets the first response and creates nothing; another body gets 422', async () => {
    const key = randomUUID();
    const customerId = eligible(4);
    const first = await call('/upgrades', { customerId }, key);
    expect(first.status).toBe(202);
    const createsAfterFirst = creates();

    const repeat = await call('/upgrades', { customerId }, key);
    expect(repeat.status).toBe(202);
    expect(repeat.body).toEqual(first.body);
    expect(repeat.headers.location).toBe(first.headers.location);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(creates()).toBe(createsAfterFirst);
    expect(upgradesOf(customerId)).toHaveLength(1);

    const reused = await call('/upgrades', { customerId: eligible(5) }, key);
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ type: 'urn:azure-plan-upgrades:problem:webhook-id-reused' });
    expect(upgradesOf(eligible(5))).toHaveLength(0);
  });

  it('webhook-id: a concurrent duplicate gets 409 while the first runs; one upgrade', async () => {
    const key = randomUUID();
    const customerId = eligible(6);
    // The first request holds its id once it asks Partner Center to create: it is held there until the duplicate
    // has had its answer.
    const create = watch.hold('createUpgrade');
    const first = call('/upgrades', { customerId }, key);
    await create.arrived;
    const duplicate = await call('/upgrades', { customerId }, key).finally(create.release);
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({ type: 'urn:azure-plan-upgrades:problem:request-in-progress' });
    expect(duplicate.headers['retry-after']).toMatch(/^\d+$/);
    expect((await first).status).toBe(202);
    expect(upgradesOf(customerId)).toHaveLength(1);
  });

  it('webhook-id: a concurrent duplicate eligibility check gets 409 while the first runs', async () => {
    const eventId = `msg_${randomUUID()}`;
    // The first request reserves its webhook-id while it asks Partner Center, which holds the question until the
    // duplicate has had its answer.
    const eligibility = watch.hold('checkEligibility');
    const reserved = watch.written('webhookIds');
    const first = call('/eligibility', { customerId: eligible(10) }, eventId);
    await Promise.all([eligibility.arrived, reserved]);
    const duplicate = await call('/eligibility', { customerId: eligible(10) }, eventId).finally(eligibility.release);
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({ type: 'urn:azure-plan-upgrades:problem:request-in-progress' });
    expect((await first).status).toBe(200);
  });

  it('webhook-id: a repeated delivery gets the original response with no side effect', async () => {
    const eventId = `msg_${randomUUID()}`;
    const customerId = eligible(7);
    const first = await call('/upgrades', { customerId }, eventId);
    expect(first.status).toBe(202);
    const before = stack.sim.state.counters().requests;

    const repeat = await call('/upgrades', { customerId }, eventId);
    expect(repeat.status).toBe(202);
    expect(repeat.body).toEqual(first.body);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(stack.sim.state.counters().requests).toEqual(before);

    const check = `msg_${randomUUID()}`;
    const e1 = await call('/eligibility', { customerId: eligible(8) }, check);
    const e2 = await call('/eligibility', { customerId: eligible(8) }, check);
    expect(e2.body).toEqual(e1.body);
  });

  it('a create whose answer was lost (crash) and is retried with the same webhook-id makes one upgrade', async () => {
    const key = randomUUID();
    const customerId = eligible(9);
    // Partner Center creates the upgrade but every answer is lost: the request fails as a dependency failure.
    stack.sim.setFaults('create', { connectionReset: 1, connectionResetPhase: 'after' });
    const lost = await call('/upgrades', { customerId }, key);
    expect(lost.status).toBe(503);
    expect(lost.headers['retry-after']).toMatch(/^\d+$/);
    expect(upgradesOf(customerId)).toHaveLength(1);

    stack.sim.state.clearFaults();
    const retried = await call('/upgrades', { customerId }, key);
    const upgradeId = upgradesOf(customerId)[0].id;
    // Either the create is answered again (same MS-RequestId) or eligibility names the upgrade: never a second one.
    expect([202, 409]).toContain(retried.status);
    expect(retried.headers.location).toBe(`/api/upgrades/${upgradeId}`);
    expect(upgradesOf(customerId)).toHaveLength(1);
    const detail = await read(`/upgrades/${upgradeId}`);
    expect(detail.status).toBe(200);
  });
});
