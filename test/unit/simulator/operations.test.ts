import { randomUUID } from 'node:crypto';
import {
  startSimulator,
  steppedClock,
  type RunningSimulator,
  type Scenario,
  type SteppedClock,
  type UpgradeTruth,
} from '../../../dev/simulator';
import { accessToken, admin, json, pc } from './helpers';

const ELIGIBLE = '10000000-0000-4000-8000-000000000001';
const THREE_SUBS = '10000000-0000-4000-8000-000000000002';
const FAILS = '10000000-0000-4000-8000-000000000003';
const PARTIAL = '10000000-0000-4000-8000-000000000004';
const SUSPENDED = '20000000-0000-4000-8000-000000000105';
const NO_AZURE = '20000000-0000-4000-8000-000000000108';
const SHARED_SERVICES = '20000000-0000-4000-8000-000000000119';
const RECENT = '20000000-0000-4000-8000-000000000130';
const UNKNOWN = '99999999-0000-4000-8000-000000000000';

const scenario: Scenario = {
  name: 'operations-test',
  durations: { pendingSeconds: 60, inProgressSeconds: 300 },
  customers: [
    { id: ELIGIBLE },
    { id: THREE_SUBS, legacySubscriptions: 3 },
    { id: FAILS, legacySubscriptions: 2, outcome: 'Failed', errorDetails: { code: 'X1', description: 'boom' } },
    { id: PARTIAL, legacySubscriptions: 3, outcome: 'PartiallyFailed', failedLineItems: 1 },
    { id: SUSPENDED, ineligibleReason: 'suspendedSubscriptions' },
    { id: NO_AZURE, ineligibleReason: 'noAzureSubscriptions' },
    { id: SHARED_SERVICES, ineligibleReason: 'azurePartnerSharedServices' },
    { id: RECENT, ineligibleReason: 'boughtRecently' },
  ],
};

describe('simulator Partner Center operations', () => {
  let sim: RunningSimulator;
  let clock: SteppedClock;
  let token: string;

  const eligibility = (customerId: string, extra: Record<string, string> = {}): Promise<Response> =>
    pc(sim, '/v1/productUpgrades/eligibility', { customerId, productFamily: 'Azure' }, { token, headers: extra });
  const create = (customerId: string, requestId = randomUUID()): Promise<Response> =>
    pc(
      sim,
      '/v1/productUpgrades',
      { customerId, productFamily: 'Azure' },
      { token, headers: { 'MS-RequestId': requestId } },
    );
  const status = (
    upgradeId: string,
    customerId: string,
    path = `/v1/productUpgrades/${upgradeId}/status`,
  ): Promise<Response> => pc(sim, path, { customerId, productFamily: 'Azure' }, { token });
  const upgradeIdOf = (response: Response): string => response.headers.get('location')!.split('/').pop()!;

  beforeEach(async () => {
    clock = steppedClock('2026-03-01T00:00:00Z');
    sim = await startSimulator({ port: 0, clock, scenario });
    token = await accessToken(sim);
  });
  afterEach(() => sim.close());

  it('eligibility: 200 isEligible true for an eligible customer (PascalCase body, lower-case path accepted)', async () => {
    const response = await pc(
      sim,
      '/v1/productupgrades/ELIGIBILITY',
      { CustomerId: ELIGIBLE, ProductFamily: 'azure' },
      { token },
    );
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ customerId: ELIGIBLE, productFamily: 'Azure', isEligible: true });
  });

  it.each([
    [SUSPENDED, 900105, /suspended/],
    [NO_AZURE, 900108, /does not have any Azure subscriptions/],
    [SHARED_SERVICES, 900119, /Partner Shared Services/],
    [RECENT, 900130, /recently/],
  ])(
    'ineligible customer %s: eligibility 200 isEligible false with a reason; create 403 %i',
    async (id, code, text) => {
      const check = await eligibility(id);
      expect(check.status).toBe(200);
      const body = await json(check);
      expect(body).toMatchObject({ customerId: id, isEligible: false });
      expect(body.reason).toMatch(text);
      expect(body.upgradeId).toBeUndefined();
      const created = await create(id);
      expect(created.status).toBe(403);
      expect(await json(created)).toMatchObject({ code, source: 'PartnerFD', data: [] });
    },
  );

  it('rejects bad input: non-GUID customer 900118, other family 800002, malformed JSON 800002', async () => {
    const notGuid = await pc(
      sim,
      '/v1/productUpgrades/eligibility',
      { customerId: 'abc', productFamily: 'Azure' },
      { token },
    );
    expect(notGuid.status).toBe(400);
    expect(await json(notGuid)).toMatchObject({ code: 900118 });
    const family = await pc(sim, '/v1/productUpgrades', { customerId: ELIGIBLE, productFamily: 'Office' }, { token });
    expect(family.status).toBe(400);
    expect(await json(family)).toMatchObject({ code: 800002 });
    const malformed = await pc(sim, '/v1/productUpgrades/eligibility', undefined, { token, raw: '{"customerId":' });
    expect(malformed.status).toBe(400);
    expect(await json(malformed)).toMatchObject({ code: 800002 });
  });

  it('rejects a missing or unknown bearer token with 401 and the Partner Center error body', async () => {
    const body = { customerId: ELIGIBLE, productFamily: 'Azure' };
    for (const auth of [undefined, 'not-a-token']) {
      const response = await pc(sim, '/v1/productUpgrades/eligibility', body, { token: auth });
      expect(response.status).toBe(401);
      expect(await json(response)).toMatchObject({ code: 800001, source: 'PartnerFD' });
    }
  });

  it('an unknown customer has no commerce relationship: 403 20002', async () => {
    const response = await eligibility(UNKNOWN);
    expect(response.status).toBe(403);
    expect(await json(response)).toMatchObject({ code: 20002 });
  });

  it('lifecycle: 202 relative Location, Pending → InProgress → Completed with upgradedDate, then 900110', async () => {
    const created = await create(THREE_SUBS);
    expect(created.status).toBe(202);
    expect(await created.text()).toBe('');
    const location = created.headers.get('location')!;
    expect(location).toMatch(/^productUpgrades\/[0-9a-f-]{36}$/);
    const id = upgradeIdOf(created);

    const afterCreate = await json(await eligibility(THREE_SUBS));
    expect(afterCreate).toMatchObject({ isEligible: false, upgradeId: id });

    let body = await json(await status(id, THREE_SUBS));
    expect(body).toMatchObject({ id, productFamily: 'Azure', status: 'Pending' });
    expect(body.lineItems).toHaveLength(3);
    expect(body.lineItems[0]).toMatchObject({
      sourceProduct: { name: 'AzureSubscription' },
      targetProduct: { name: 'Microsoft Azure plan' },
      status: 'Pending',
    });

    const running = await create(THREE_SUBS);
    expect(running.status).toBe(409);
    const conflict = await json(running);
    expect(conflict.code).toBe(900109);
    expect(conflict.description).toContain(id);

    clock.advance(60_000);
    body = await json(await status(id, THREE_SUBS));
    expect(body.status).toBe('InProgress');
    clock.advance(150_000); // half way: the first line item is done
    body = await json(await status(id, THREE_SUBS));
    expect(body.status).toBe('InProgress');
    expect(body.lineItems.map((item) => item.status)).toEqual(['Completed', 'InProgress', 'InProgress']);

    clock.advance(150_000);
    body = await json(await status(id, THREE_SUBS, `/V1/ProductUpgrades/${id}`)); // the alias without /status
    expect(body.status).toBe('Completed');
    expect(body.errorDetails).toBeUndefined();
    for (const item of body.lineItems) {
      expect(item.status).toBe('Completed');
      expect(item.upgradedDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
    }
    const done = await create(THREE_SUBS);
    expect(done.status).toBe(400);
    expect(await json(done)).toMatchObject({ code: 900110 });
    expect(await json(await eligibility(THREE_SUBS))).toMatchObject({ isEligible: false, upgradeId: id });

    const truth = await admin<UpgradeTruth>(sim, 'GET', `/upgrades/${id}`);
    expect(truth).toMatchObject({ id, customerId: THREE_SUBS, status: 'Completed', outcome: 'Completed' });
    expect(truth.finishedAt).toBe('2026-03-01T00:06:00.000Z');
  });

  it('a Failed upgrade carries errorDetails; the customer may try again', async () => {
    const id = upgradeIdOf(await create(FAILS));
    clock.advance(360_000);
    const body = await json(await status(id, FAILS));
    expect(body).toMatchObject({ status: 'Failed', errorDetails: { code: 'X1', description: 'boom' } });
    expect(body.lineItems.every((item) => item.status === 'Failed' && !item.upgradedDate)).toBe(true);
    expect(await json(await eligibility(FAILS))).toMatchObject({ isEligible: true });
    expect((await create(FAILS)).status).toBe(202);
  });

  it('a partial failure: some line items Completed, the rest Failed with errorDetails', async () => {
    const id = upgradeIdOf(await create(PARTIAL));
    clock.advance(360_000);
    const body = await json(await status(id, PARTIAL));
    expect(body.status).toBe('Failed');
    expect(body.lineItems.map((item) => item.status)).toEqual(['Completed', 'Completed', 'Failed']);
    expect(body.lineItems[2].errorDetails).toBeDefined();
    expect(body.lineItems[0].upgradedDate).toBeDefined();
  });

  it('a create repeated with the same MS-RequestId returns the same upgrade', async () => {
    const requestId = randomUUID();
    const first = await create(ELIGIBLE, requestId);
    const again = await create(ELIGIBLE, requestId);
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(sim.state.listUpgrades({ customerId: ELIGIBLE })).toHaveLength(1);
    expect(sim.state.counters().upgradesCreated).toBe(1);
  });

  it("status: unknown id 404 900106, another customer's id 400 900111", async () => {
    const unknown = await status(randomUUID(), ELIGIBLE);
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ code: 900106 });
    const id = upgradeIdOf(await create(ELIGIBLE));
    const other = await status(id, THREE_SUBS);
    expect(other.status).toBe(400);
    expect(await json(other)).toMatchObject({ code: 900111 });
  });

  it('every response carries MS-RequestId, MS-CorrelationId (echoed), MS-CV and MS-ServerId', async () => {
    const correlationId = randomUUID();
    const requestId = randomUUID();
    const responses = [
      await eligibility(ELIGIBLE, { 'MS-CorrelationId': correlationId, 'MS-RequestId': requestId }),
      await pc(
        sim,
        '/v1/productUpgrades/eligibility',
        {},
        { headers: { 'MS-CorrelationId': correlationId, 'MS-RequestId': requestId } },
      ),
      await fetch(`${sim.url}/${sim.credentials.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'MS-CorrelationId': correlationId, 'MS-RequestId': requestId },
        body: new URLSearchParams({ grant_type: 'refresh_token' }),
      }),
      await fetch(`${sim.url}/nowhere`, { headers: { 'MS-CorrelationId': correlationId, 'MS-RequestId': requestId } }),
    ];
    for (const response of responses) {
      expect(response.headers.get('ms-correlationid')).toBe(correlationId);
      expect(response.headers.get('ms-requestid')).toBe(requestId);
      expect(response.headers.get('ms-cv')).toMatch(/^\S+\.0$/);
      expect(response.headers.get('ms-serverid')).toMatch(/^\d+$/);
    }
    const fresh = await eligibility(ELIGIBLE);
    expect(fresh.headers.get('ms-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(fresh.headers.get('ms-correlationid')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
