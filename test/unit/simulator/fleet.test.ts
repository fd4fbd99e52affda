import { randomUUID } from 'node:crypto';
import {
  startSimulator,
  steppedClock,
  type CustomerTruth,
  type RunningSimulator,
  type Scenario,
  type SteppedClock,
} from '../../../dev/simulator';
import { accessToken, admin, collection, json, pc, pcGet, type WireCollection } from './helpers';

const id = (n: number): string => `30000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const ON_PLAN = id(1);
const ELIGIBLE = id(2);
const RESELLERS = id(3);
const SUSPENDED = id(4);
const NO_AZURE = id(5);
const ADVISOR = id(6);
const NO_MCA = id(7);
const RUNNING = id(8);
const PARTIAL = id(9);
const UNKNOWN = '99999999-0000-4000-8000-000000000000';

const scenario: Scenario = {
  name: 'fleet-test',
  durations: { pendingSeconds: 60, inProgressSeconds: 300 },
  customers: [
    { id: ON_PLAN, name: 'On Plan', existingUpgrade: 'completed', legacySubscriptions: 2, otherSubscriptions: 1 },
    { id: ELIGIBLE, name: 'Eligible', legacySubscriptions: 2 },
    { id: RESELLERS, name: 'Indirect', legacySubscriptions: 3, resellers: ['1111111', '2222222'] },
    { id: SUSPENDED, name: 'Suspended', ineligibleReason: 'suspendedSubscriptions', legacySubscriptions: 2 },
    { id: NO_AZURE, name: 'No Azure', ineligibleReason: 'noAzureSubscriptions', otherSubscriptions: 2 },
    { id: ADVISOR, name: 'Advisor', relationship: 'advisor' },
    { id: NO_MCA, name: 'No MCA', ineligibleReason: 'noCustomerAgreement' },
    { id: RUNNING, name: 'Running', existingUpgrade: 'running', legacySubscriptions: 2 },
    { id: PARTIAL, name: 'Partial', legacySubscriptions: 3, outcome: 'PartiallyFailed', failedLineItems: 1 },
  ],
};
const ALL = scenario.customers.map((c) => c.id);

interface Subscription {
  id: string;
  offerId: string;
  status: string;
  partnerId?: string;
  entitlementId?: string;
}

describe('simulator fleet routes', () => {
  let sim: RunningSimulator;
  let clock: SteppedClock;
  let token: string;

  const get = (path: string, headers: Record<string, string> = {}): Promise<Response> =>
    pcGet(sim, path, { token, headers });
  const subscriptions = async (customerId: string, query = ''): Promise<Subscription[]> => {
    const response = await get(`/v1/customers/${customerId}/subscriptions${query}`);
    expect(response.status).toBe(200);
    return (await collection(response)).items as unknown as Subscription[];
  };
  const next = (page: WireCollection): Record<string, string> =>
    Object.fromEntries((page.links?.next?.headers ?? []).map((h) => [h.key, h.value]));
  const ids = (page: WireCollection): string[] => page.items.map((item) => item.id as string);

  beforeEach(async () => {
    clock = steppedClock('2026-03-01T00:00:00Z');
    sim = await startSimulator({ port: 0, clock, scenario });
    token = await accessToken(sim);
  });
  afterEach(() => sim.close());

  describe('listing customers', () => {
    it('pages with a /v1 next link and the token only in its headers; every customer exactly once', async () => {
      const first = await collection(await get('/v1/customers?size=4'));
      expect(first).toMatchObject({ totalCount: 4, attributes: { objectType: 'Collection' } });
      expect(first.items[0]).toMatchObject({
        id: ON_PLAN,
        companyProfile: {
          tenantId: ON_PLAN,
          companyName: 'On Plan',
          domain: expect.stringMatching(/\.onmicrosoft\.com$/),
        },
        relationshipToPartner: 'reseller',
        attributes: { objectType: 'Customer' },
      });
      expect(first.links?.next).toMatchObject({ uri: '/v1/customers?size=4&seekOperation=Next', method: 'GET' });
      expect(Object.keys(next(first))).toEqual(['MS-ContinuationToken']);
      expect(first.continuationToken).toBeUndefined();

      const second = await collection(await get(first.links!.next!.uri, next(first)));
      const third = await collection(await get(second.links!.next!.uri, next(second)));
      expect(third.links?.next).toBeUndefined();
      expect([...ids(first), ...ids(second), ...ids(third)]).toEqual(ALL);
      expect(third.items.find((c) => c.id === ADVISOR)).toBeUndefined();
      expect(second.items.find((c) => c.id === ADVISOR)).toMatchObject({ relationshipToPartner: 'advisor' });
    });

    it('the continuation needs its header; without seekOperation=Next the token is ignored; /v1//v1 is a 404', async () => {
      const first = await collection(await get('/v1/customers?size=4'));
      const missing = await get(first.links!.next!.uri);
      expect(missing.status).toBe(400);
      expect(await json(missing)).toMatchObject({ code: 800002 });
      const tokenInQuery = await collection(await get('/v1/customers?size=4', next(first)));
      expect(ids(tokenInQuery)).toEqual(ids(first));
      const bogus = await get(first.links!.next!.uri, { 'MS-ContinuationToken': 'AQAAAA8xNDQz' });
      expect(bogus.status).toBe(400);
      const doubled = await get(`/v1/${first.links!.next!.uri}`, next(first));
      expect(doubled.status).toBe(404);
    });

    it('caps the page size; a size that is not a positive integer is refused', async () => {
      sim.setPaging({ maxPageSize: 3 });
      const capped = await collection(await get('/v1/customers?size=500'));
      expect(capped.items).toHaveLength(3);
      expect(capped.links?.next?.uri).toBe('/v1/customers?size=3&seekOperation=Next');
      expect((await get('/v1/customers?size=0')).status).toBe(400);
      expect((await get('/v1/customers?size=abc')).status).toBe(400);
      sim.setPaging({ defaultPageSize: 2 });
      expect((await collection(await get('/v1/customers'))).items).toHaveLength(2);
    });

    it.each([
      ['v1', '/v1/customers?size=5&seekOperation=Next'],
      ['root', '/customers?size=5&seekOperation=Next'],
      ['relative', 'customers?size=5&seekOperation=Next'],
    ] as const)('next link form %s: %s', async (form, uri) => {
      sim.setPaging({ nextLink: form });
      const page = await collection(await get('/v1/customers?size=5'));
      expect(page.links?.next?.uri).toBe(uri);
      const rest = await collection(await get(`/v1/customers?size=5&seekOperation=Next`, next(page)));
      expect(rest.items).toHaveLength(ALL.length - 5);
    });

    it('next link form absolute: the host the caller addressed', async () => {
      sim.setPaging({ nextLink: 'absolute' });
      const page = await collection(await get('/v1/customers?size=5'));
      expect(page.links?.next?.uri).toBe(`${sim.url}/v1/customers?size=5&seekOperation=Next`);
      const followed = await fetch(page.links!.next!.uri, {
        headers: { Authorization: `Bearer ${token}`, ...next(page) },
      });
      expect(ids(await collection(followed))).toEqual(ALL.slice(5));
    });

    it('the token in the header and the body, or in the body only', async () => {
      sim.setPaging({ continuation: 'headerAndBody' });
      const both = await collection(await get('/v1/customers?size=5'));
      expect(both.continuationToken).toBe(next(both)['MS-ContinuationToken']);
      sim.setPaging({ continuation: 'bodyOnly' });
      const bodyOnly = await collection(await get('/v1/customers?size=5'));
      expect(bodyOnly.links?.next).toBeUndefined();
      expect(bodyOnly.continuationToken).toEqual(expect.any(String));
      const rest = await collection(
        await get('/v1/customers?size=5&seekOperation=Next', { 'MS-ContinuationToken': bodyOnly.continuationToken! }),
      );
      expect(ids(rest)).toEqual(ALL.slice(5));
      expect(rest.continuationToken).toBeUndefined();
    });

    it('the code-2000 end: the last page still has a next link, and following it answers 400 with code 2000', async () => {
      sim.setPaging({ endWithError2000: true });
      const first = await collection(await get('/v1/customers?size=5'));
      const last = await collection(await get(first.links!.next!.uri, next(first)));
      expect(ids(last)).toEqual(ALL.slice(5));
      expect(last.links?.next).toBeDefined();
      const end = await get(last.links!.next!.uri, next(last));
      expect(end.status).toBe(400);
      expect(await json(end)).toMatchObject({ code: 2000, source: 'PartnerFD' });
    });
  });

  describe('subscriptions, usage records and agreements follow the customer model', () => {
    it('a legacy customer: its MS-AZR-0145P subscriptions, active, with entitlement ids; other offers beside them', async () => {
      const subs = await subscriptions(ELIGIBLE);
      expect(subs).toHaveLength(2);
      for (const sub of subs) {
        expect(sub).toMatchObject({ offerId: 'MS-AZR-0145P', status: 'active', billingType: 'usage' });
        expect(sub.entitlementId).toMatch(/^[0-9a-f-]{36}$/);
        expect(sub.partnerId).toBeUndefined();
      }
      const noAzure = await subscriptions(NO_AZURE);
      expect(noAzure).toHaveLength(2);
      expect(noAzure.every((s) => s.offerId !== 'MS-AZR-0145P' && s.status === 'active')).toBe(true);
      expect((await subscriptions(SUSPENDED)).map((s) => s.status)).toEqual(['suspended', 'active']);
    });

    it('resellers of record: partnerId per subscription, and mpn_id narrows to one reseller', async () => {
      const subs = await subscriptions(RESELLERS);
      expect(subs.map((s) => s.partnerId)).toEqual(['1111111', '2222222', '1111111']);
      expect((await subscriptions(RESELLERS, '?mpn_id=2222222')).map((s) => s.id)).toEqual([subs[1].id]);
      expect((await get(`/v1/customers/${RESELLERS}/subscriptions?mpn_id=x1`)).status).toBe(400);
    });

    it('already on an Azure plan: the plan listed, the legacy subscriptions suspended, isUpgraded in the usage record', async () => {
      const subs = await subscriptions(ON_PLAN);
      const legacy = subs.filter((s) => s.offerId === 'MS-AZR-0145P');
      const plans = subs.filter((s) => s.offerId.startsWith('DZH318Z0BPS6'));
      expect(legacy.map((s) => s.status)).toEqual(['suspended', 'suspended']);
      expect(plans).toHaveLength(1);
      expect(plans[0].status).toBe('active');
      const usage = await collection(await get('/v1/customers/usagerecords'));
      const record = usage.items.find((r) => r.id === ON_PLAN);
      expect(record).toMatchObject({ resourceId: ON_PLAN, name: 'On Plan', isUpgraded: true });
      expect(usage.items.find((r) => r.id === ELIGIBLE)).toMatchObject({ isUpgraded: false });
      // One record per reseller customer with Azure: no advisor, no customer without Azure.
      expect(usage.items.map((r) => r.id).sort()).toEqual(ALL.filter((c) => c !== ADVISOR && c !== NO_AZURE).sort());
    });

    it('usage records page like customers, and skip the customers they do not list', async () => {
      const first = await collection(await get('/v1/customers/usagerecords?size=4'));
      expect(first.links?.next?.uri).toBe('/v1/customers/usagerecords?size=4&seekOperation=Next');
      const second = await collection(await get(first.links!.next!.uri, next(first)));
      expect(second.links?.next).toBeUndefined();
      expect([...ids(first), ...ids(second)]).toEqual(ALL.filter((c) => c !== ADVISOR && c !== NO_AZURE));
    });

    it('agreements: the customer agreement only when attested; without agreementType the older cloud agreement', async () => {
      const mca = await collection(
        await get(`/v1/customers/${ELIGIBLE}/agreements?agreementType=MicrosoftCustomerAgreement`),
      );
      expect(mca.items).toHaveLength(1);
      expect(mca.items[0]).toMatchObject({ type: 'MicrosoftCustomerAgreement', dateAgreed: expect.any(String) });
      const none = await collection(
        await get(`/v1/customers/${NO_MCA}/agreements?agreementType=MicrosoftCustomerAgreement`),
      );
      expect(none).toMatchObject({ totalCount: 0, items: [] });
      // The documented pitfall: a client that omits the type sees an agreement for a customer without the MCA.
      const omitted = await collection(await get(`/v1/customers/${NO_MCA}/agreements`));
      expect(omitted.items).toEqual([expect.objectContaining({ type: 'MicrosoftCloudAgreement' })]);
      expect((await get(`/v1/customers/${NO_MCA}/agreements?agreementType=Other`)).status).toBe(400);
    });

    it('an advisor or unknown customer: 403 20002; a customer id that is not a GUID: 400 900118', async () => {
      for (const customer of [ADVISOR, UNKNOWN]) {
        for (const path of ['subscriptions', 'agreements?agreementType=MicrosoftCustomerAgreement']) {
          const response = await get(`/v1/customers/${customer}/${path}`);
          expect(response.status).toBe(403);
          expect(await json(response)).toMatchObject({ code: 20002 });
        }
      }
      expect(await json(await get('/v1/customers/not-a-guid/subscriptions'))).toMatchObject({ code: 900118 });
    });

    it('GET only, and the same authentication as the upgrade routes', async () => {
      const post = await pcGet(sim, '/v1/customers', { token, method: 'POST' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET');
      const anonymous = await pcGet(sim, '/v1/customers');
      expect(anonymous.status).toBe(401);
      expect(await json(anonymous)).toMatchObject({ code: 800001 });
    });
  });

  describe('the product-upgrade routes agree with the fleet', () => {
    const eligibility = (customerId: string): Promise<Response> =>
      pc(sim, '/v1/productUpgrades/eligibility', { customerId, productFamily: 'Azure' }, { token });
    const create = (customerId: string): Promise<Response> =>
      pc(
        sim,
        '/v1/productUpgrades',
        { customerId, productFamily: 'Azure' },
        { token, headers: { 'MS-RequestId': randomUUID() } },
      );

    it('advisor 403 20002; no customer agreement 900120; a running upgrade and a completed one answer with their id', async () => {
      expect(await json(await eligibility(ADVISOR))).toMatchObject({ code: 20002 });
      expect((await create(ADVISOR)).status).toBe(403);

      expect(await json(await eligibility(NO_MCA))).toMatchObject({
        isEligible: false,
        reason: expect.stringMatching(/Customer Agreement/),
      });
      const refused = await create(NO_MCA);
      expect(refused.status).toBe(403);
      expect(await json(refused)).toMatchObject({ code: 900120 });

      const running = sim.state.customerTruth(RUNNING)!;
      expect(running.upgradeIds).toHaveLength(1);
      expect(sim.state.getUpgrade(running.upgradeIds[0])).toMatchObject({ status: 'InProgress' });
      expect(await json(await eligibility(RUNNING))).toMatchObject({
        isEligible: false,
        upgradeId: running.upgradeIds[0],
      });
      expect(await json(await create(RUNNING))).toMatchObject({ code: 900109 });

      const onPlan = sim.state.customerTruth(ON_PLAN)!;
      expect(sim.state.getUpgrade(onPlan.upgradeIds[0])).toMatchObject({ status: 'Completed' });
      expect(await json(await eligibility(ON_PLAN))).toMatchObject({
        isEligible: false,
        upgradeId: onPlan.upgradeIds[0],
      });
      expect(await json(await create(ON_PLAN))).toMatchObject({ code: 900110 });
    });

    it('an upgrade moves the subscriptions one by one: the Azure plan appears, each legacy one is suspended, isUpgraded', async () => {
      const before = await subscriptions(RESELLERS);
      const created = await create(RESELLERS);
      expect(created.status).toBe(202);
      const upgradeId = created.headers.get('location')!.split('/')[1];
      clock.advance(60_000 + 100_000); // InProgress, the first of three line items done
      const during = await subscriptions(RESELLERS);
      expect(during.filter((s) => s.offerId === 'MS-AZR-0145P').map((s) => s.status)).toEqual([
        'suspended',
        'active',
        'active',
      ]);
      expect(during.filter((s) => s.offerId.startsWith('DZH318Z0BPS6')).map((s) => s.partnerId)).toEqual(['1111111']);
      clock.advance(300_000);
      const after = await subscriptions(RESELLERS);
      expect(after.filter((s) => s.offerId === 'MS-AZR-0145P').every((s) => s.status === 'suspended')).toBe(true);
      // Indirect model: one Azure plan per reseller, and the line items move each subscription to its reseller's plan.
      const plans = after.filter((s) => s.offerId.startsWith('DZH318Z0BPS6'));
      expect(plans.map((p) => p.partnerId).sort()).toEqual(['1111111', '2222222']);
      const status = await json(
        await pc(
          sim,
          `/v1/productUpgrades/${upgradeId}/status`,
          { customerId: RESELLERS, productFamily: 'Azure' },
          { token },
        ),
      );
      const planOf = new Map(plans.map((p) => [p.partnerId, p.id]));
      expect(status.lineItems.map((item) => item.targetProduct.id)).toEqual(
        before.map((sub) => planOf.get(sub.partnerId)),
      );
      expect(status.lineItems.map((item) => item.sourceProduct.id)).toEqual(before.map((sub) => sub.id));
      const truth = sim.state.customerTruth(RESELLERS)!;
      expect(truth).toMatchObject({
        onAzurePlan: true,
        eligibility: { isEligible: false, reason: 'alreadyUpgraded', reasonCode: 900110, upgradeId },
      });
    });

    it('a partial failure leaves the failed subscriptions legacy and active; the next upgrade takes only those', async () => {
      expect((await create(PARTIAL)).status).toBe(202);
      clock.advance(360_000);
      const subs = await subscriptions(PARTIAL);
      const legacy = subs.filter((s) => s.offerId === 'MS-AZR-0145P');
      expect(legacy.map((s) => s.status)).toEqual(['suspended', 'suspended', 'active']);
      expect(subs.some((s) => s.offerId.startsWith('DZH318Z0BPS6'))).toBe(true);
      expect(sim.state.customerTruth(PARTIAL)).toMatchObject({ onAzurePlan: true, eligibility: { isEligible: true } });
      const second = await create(PARTIAL);
      expect(second.status).toBe(202);
      const retry = sim.state.getUpgrade(second.headers.get('location')!.split('/')[1])!;
      expect(retry.lineItems.map((item) => item.sourceProduct.id)).toEqual([legacy[2].id]);
    });
  });

  describe('limits, faults, counters and the admin API', () => {
    it('lists are throttled per partner; subscriptions per partner + customer; each route counted', async () => {
      sim.setRateLimits({ perCustomer: { ratePerSecond: 0.1, burst: 1 } });
      expect((await get(`/v1/customers/${ELIGIBLE}/subscriptions`)).status).toBe(200);
      const limited = await get(`/v1/customers/${ELIGIBLE}/subscriptions`);
      expect(limited.status).toBe(429);
      expect(await limited.json()).toEqual({
        statusCode: 429,
        message: `Rate limit is exceeded. Try again in ${limited.headers.get('retry-after')} seconds.`,
      });
      expect((await get(`/v1/customers/${NO_MCA}/subscriptions`)).status).toBe(200);
      // The lists have no customer: the per-customer bucket does not apply to them.
      expect((await get('/v1/customers')).status).toBe(200);
      expect((await get('/v1/customers')).status).toBe(200);

      sim.setRateLimits({ perPartner: { ratePerSecond: 0.1, burst: 2 } });
      expect((await get('/v1/customers')).status).toBe(200);
      expect((await get('/v1/customers/usagerecords')).status).toBe(200);
      expect((await get('/v1/customers')).status).toBe(429);
      const counters = sim.state.counters();
      expect(counters.requests.subscriptions.byStatus).toEqual({ '200': 2, '429': 1 });
      expect(counters.requests.customers.byStatus).toEqual({ '200': 3, '429': 1 });
      expect(counters.requests.usageRecords.byStatus).toEqual({ '200': 1 });
      expect(counters.throttled.byRoute).toEqual({ subscriptions: 1, customers: 1 });
    });

    it('under a burst of concurrent calls on every fleet route, no more than the configured rate gets through', async () => {
      sim.setRateLimits({ perPartner: { ratePerSecond: 4, burst: 4 } });
      sim.state.resetCounters();
      const paths = ['/v1/customers', '/v1/customers/usagerecords', `/v1/customers/${ELIGIBLE}/subscriptions`];
      const started = performance.now();
      const statuses = await Promise.all(Array.from({ length: 60 }, (_, i) => get(paths[i % 3]).then((r) => r.status)));
      const elapsedSeconds = (performance.now() - started) / 1000;
      const passed = statuses.filter((status) => status === 200).length;
      expect(passed).toBeGreaterThanOrEqual(4);
      expect(passed).toBeLessThanOrEqual(4 + Math.ceil(4 * elapsedSeconds));
      expect(statuses.filter((status) => status === 429)).toHaveLength(60 - passed);
      expect(sim.state.counters().throttled.total).toBe(60 - passed);
    });

    it('faults on the fleet routes: 503 with the Partner Center body, a truncated page, a route of its own', async () => {
      sim.setFaults('customers', { status503: 1 });
      const failed = await get('/v1/customers');
      expect(failed.status).toBe(503);
      expect(await json(failed)).toMatchObject({ code: 800003 });
      expect((await get('/v1/customers/usagerecords')).status).toBe(200);
      sim.setFaults('customers', null);
      await admin(sim, 'PUT', '/faults/subscriptions', { malformedJson: 1 });
      const cut = await get(`/v1/customers/${ELIGIBLE}/subscriptions`);
      expect(cut.status).toBe(200);
      const text = await cut.text();
      expect(() => JSON.parse(text) as unknown).toThrow();
      expect(text.startsWith('{"totalCount"')).toBe(true);
      expect(sim.state.counters().faultsInjected).toEqual({ status503: 1, malformedJson: 1 });
    });

    it('paging switches through the admin API, validated', async () => {
      expect(await admin(sim, 'GET', '/paging')).toEqual({
        maxPageSize: 500,
        defaultPageSize: 100,
        nextLink: 'v1',
        continuation: 'header',
        endWithError2000: false,
      });
      expect(await admin(sim, 'PUT', '/paging', { nextLink: 'root', endWithError2000: true })).toMatchObject({
        nextLink: 'root',
        endWithError2000: true,
        maxPageSize: 500,
      });
      expect((await collection(await get('/v1/customers?size=2'))).links?.next?.uri).toBe(
        '/customers?size=2&seekOperation=Next',
      );
      expect(await admin(sim, 'PUT', '/paging', { nextLink: '/v1//v1' })).toMatchObject({
        error: expect.stringMatching(/nextLink/),
      });
      expect(await admin(sim, 'PUT', '/paging', { pageSize: 3 })).toMatchObject({
        error: expect.stringMatching(/pageSize/),
      });
    });

    it('ground truth per customer and for the whole fleet', async () => {
      const truth = await admin<CustomerTruth>(sim, 'GET', `/fleet/customers/${RESELLERS}`);
      expect(truth).toEqual({
        id: RESELLERS,
        name: 'Indirect',
        domain: expect.stringMatching(/\.onmicrosoft\.com$/),
        relationship: 'reseller',
        onAzurePlan: false,
        azurePlans: [],
        legacySubscriptions: [
          { id: expect.any(String), entitlementId: expect.any(String), status: 'active', partnerId: '1111111' },
          { id: expect.any(String), entitlementId: expect.any(String), status: 'active', partnerId: '2222222' },
          { id: expect.any(String), entitlementId: expect.any(String), status: 'active', partnerId: '1111111' },
        ],
        agreementAttested: true,
        eligibility: { isEligible: true },
        upgradeIds: [],
      });
      expect(await admin(sim, 'GET', `/fleet/customers/${ADVISOR}`)).toMatchObject({
        relationship: 'advisor',
        legacySubscriptions: [],
        eligibility: { isEligible: false, reason: 'advisorRelationship', reasonCode: 20002 },
      });
      expect(sim.state.customerTruth(NO_MCA)).toMatchObject({
        agreementAttested: false,
        eligibility: { isEligible: false, reason: 'noCustomerAgreement', reasonCode: 900120 },
      });
      expect(sim.state.customerTruth(SUSPENDED)?.eligibility).toEqual({
        isEligible: false,
        reason: 'suspendedSubscriptions',
        reasonCode: 900105,
      });
      expect(sim.state.customerTruth(NO_AZURE)?.eligibility.reasonCode).toBe(900108);
      const listed = await admin<{ total: number; customers: CustomerTruth[] }>(
        sim,
        'GET',
        '/fleet/customers?offset=2&limit=3',
      );
      expect(listed.total).toBe(ALL.length);
      expect(listed.customers.map((c) => c.id)).toEqual(ALL.slice(2, 5));
      expect(await admin(sim, 'GET', '/fleet')).toEqual({
        customers: 9,
        advisors: 1,
        onAzurePlan: 1,
        withLegacySubscriptions: 7,
        agreementAttested: 7,
        eligible: 3,
        byReason: {
          alreadyUpgraded: 1,
          suspendedSubscriptions: 1,
          noAzureSubscriptions: 1,
          advisorRelationship: 1,
          noCustomerAgreement: 1,
          upgradeInProgress: 1,
        },
      });
      expect((await fetch(`${sim.url}/_sim/fleet/customers/${UNKNOWN}`)).status).toBe(404);
    });
  });
});
