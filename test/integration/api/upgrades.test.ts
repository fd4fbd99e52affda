import { randomUUID } from 'node:crypto';
import { eventually } from '../../helpers/local-host';
import { eligible, failing, INELIGIBLE, UNKNOWN_CUSTOMER } from './customers';
import { expectDocumented, get, postJson, startApiStack, type ApiResponse, type ApiStack } from './stack';

/**
 * The eligibility and start-upgrade webhooks through real HTTP into the real app, against the simulator and
 * Azurite: what the billing system sees, what Partner Center receives, and what the tables then say.
 */
describe('eligibility and start-upgrade webhooks', () => {
  let stack: ApiStack;
  let base: string;

  beforeAll(async () => {
    stack = await startApiStack({ tablePrefix: 'apiupg' });
    base = `${stack.host.url}/api`;
  });
  afterAll(async () => stack?.stop());
  afterEach(() => stack.sim.state.clearFaults());

  async function call(path: string, body: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const response = await postJson(base, path, body, { headers });
    expectDocumented('POST', path, response);
    return response;
  }

  async function read(path: string): Promise<ApiResponse> {
    const response = await get(base, path);
    expectDocumented('GET', path, response);
    return response;
  }

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
    // The queue trigger (startTracking) consumed the tracking message and started the upgrade's tracking.
    await eventually(() =>
      stack.host.logs.some((l) => l.includes(`startTracking: upgrade ${body.upgradeId} tracked`)) ? true : undefined,
    );
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
    const token = await fetch(`${stack.sim.url}/${stack.sim.credentials.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: stack.sim.credentials.clientId,
        client_secret: stack.sim.credentials.clientSecret,
        refresh_token: stack.sim.credentials.refreshToken,
        scope: 'https://api.partnercenter.microsoft.com/.default',
      }),
    }).then(async (r) => ((await r.json()) as { access_token: string }).access_token);
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

  it('Idempotency-Key: a repeat gets the first response and creates nothing; another body gets 422', async () => {
    const key = randomUUID();
    const customerId = eligible(4);
    const first = await call('/upgrades', { customerId }, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    const createsAfterFirst = creates();

    const repeat = await call('/upgrades', { customerId }, { 'idempotency-key': key });
    expect(repeat.status).toBe(202);
    expect(repeat.body).toEqual(first.body);
    expect(repeat.headers.location).toBe(first.headers.location);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(creates()).toBe(createsAfterFirst);
    expect(upgradesOf(customerId)).toHaveLength(1);

    const reused = await call('/upgrades', { customerId: eligible(5) }, { 'idempotency-key': key });
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ type: 'urn:azure-plan-upgrades:problem:idempotency-key-reused' });
    expect(upgradesOf(eligible(5))).toHaveLength(0);
  });

  it('Idempotency-Key: a concurrent duplicate gets 409 while the first runs; one upgrade', async () => {
    const key = randomUUID();
    const customerId = eligible(6);
    stack.sim.setFaults('eligibility', { latencyMs: 1500 });
    const first = call('/upgrades', { customerId }, { 'idempotency-key': key });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const duplicate = await call('/upgrades', { customerId }, { 'idempotency-key': key });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({ type: 'urn:azure-plan-upgrades:problem:request-in-progress' });
    expect(duplicate.headers['retry-after']).toMatch(/^\d+$/);
    expect((await first).status).toBe(202);
    expect(upgradesOf(customerId)).toHaveLength(1);
  });

  it('X-Event-Id: a concurrent duplicate delivery gets 409 while the first runs', async () => {
    const eventId = `evt-${randomUUID()}`;
    stack.sim.setFaults('eligibility', { latencyMs: 1500 });
    const first = call('/eligibility', { customerId: eligible(10) }, { 'x-event-id': eventId });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const duplicate = await call('/eligibility', { customerId: eligible(10) }, { 'x-event-id': eventId });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({ type: 'urn:azure-plan-upgrades:problem:request-in-progress' });
    expect((await first).status).toBe(200);
  });

  it('X-Event-Id: a repeated delivery gets the original response with no side effect', async () => {
    const eventId = `evt-${randomUUID()}`;
    const customerId = eligible(7);
    const first = await call('/upgrades', { customerId }, { 'x-event-id': eventId });
    expect(first.status).toBe(202);
    const before = stack.sim.state.counters().requests;

    const repeat = await call('/upgrades', { customerId }, { 'x-event-id': eventId });
    expect(repeat.status).toBe(202);
    expect(repeat.body).toEqual(first.body);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(stack.sim.state.counters().requests).toEqual(before);

    const check = `chk-${randomUUID()}`;
    const e1 = await call('/eligibility', { customerId: eligible(8) }, { 'x-event-id': check });
    const e2 = await call('/eligibility', { customerId: eligible(8) }, { 'x-event-id': check });
    expect(e2.body).toEqual(e1.body);
  });

  it('a create whose answer was lost (crash) and is retried with the same Idempotency-Key makes one upgrade', async () => {
    const key = randomUUID();
    const customerId = eligible(9);
    // Partner Center creates the upgrade but every answer is lost: the request fails as a dependency failure.
    stack.sim.setFaults('create', { connectionReset: 1, connectionResetPhase: 'after' });
    const lost = await call('/upgrades', { customerId }, { 'idempotency-key': key });
    expect(lost.status).toBe(503);
    expect(lost.headers['retry-after']).toMatch(/^\d+$/);
    expect(upgradesOf(customerId)).toHaveLength(1);

    stack.sim.state.clearFaults();
    const retried = await call('/upgrades', { customerId }, { 'idempotency-key': key });
    const upgradeId = upgradesOf(customerId)[0].id;
    // Either the create is answered again (same MS-RequestId) or eligibility names the upgrade: never a second one.
    expect([202, 409]).toContain(retried.status);
    expect(retried.headers.location).toBe(`/api/upgrades/${upgradeId}`);
    expect(upgradesOf(customerId)).toHaveLength(1);
    const detail = await read(`/upgrades/${upgradeId}`);
    expect(detail.status).toBe(200);
  });
});
