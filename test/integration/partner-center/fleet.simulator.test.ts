import {
  generateFleetScenario,
  startSimulator,
  steppedClock,
  type CustomerTruth,
  type NextLinkForm,
  type ContinuationPlacement,
  type RunningSimulator,
} from '../../../dev/simulator';
import {
  PartnerCenterClient,
  SecureAppModelCredential,
  type Customer,
  type Page,
  type PageCursor,
  type PartnerCenterClientOptions,
  type PartnerCenterLogger,
} from '../../../shared/partner-center';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { MemorySecretStore } from '../../helpers/memory-secret-store';
import { recordingProxy, type RecordingProxy, type WireRequest } from './recording-proxy';
import { failure } from '../../unit/partner-center/failure';

/**
 * The customer directory against the simulator over loopback HTTP, through a recording proxy that shows what the
 * client put on the wire: 2,000 generated customers of every kind, every next-link form, every placement of the
 * continuation token, the code-2000 end, the page-size cap, faults, throttling and a crash mid-listing.
 */

const CUSTOMERS = 2_000;
const scenario = generateFleetScenario({ customers: CUSTOMERS, seed: 5 });
const ALL = scenario.customers.map((c) => c.id.toLowerCase());

const logLines: string[] = [];
const logger: PartnerCenterLogger = (level, message, props) =>
  logLines.push(`${level} ${message} ${JSON.stringify(props ?? {})}`);

let sim: RunningSimulator;
let proxy: RecordingProxy;
let beforeForward: ((request: WireRequest, index: number) => void) | undefined;

function clientFor(options: Partial<PartnerCenterClientOptions> = {}): PartnerCenterClient {
  const store = new MemorySecretStore({
    PARTNER_CENTER_CLIENT_SECRET: sim.credentials.clientSecret,
    PARTNER_CENTER_REFRESH_TOKEN: sim.credentials.refreshToken,
  });
  return new PartnerCenterClient({
    baseUrl: proxy.url,
    credential: new SecureAppModelCredential({
      tenantId: sim.credentials.tenantId,
      clientId: sim.credentials.clientId,
      authorityHost: sim.url,
      secretStore: store,
      logger,
    }),
    applicationName: 'fleet-tests',
    attemptTimeoutMs: 5000,
    maxAttempts: 3,
    retryDelay: { baseMs: 5, maxMs: 20 },
    logger,
    ...options,
  });
}

async function listAll(
  client: PartnerCenterClient,
  options: Parameters<PartnerCenterClient['listCustomers']>[0] = {},
): Promise<{ ids: string[]; pages: Page<Customer>[] }> {
  const pages: Page<Customer>[] = [];
  for await (const page of client.listCustomers(options)) pages.push(page);
  return { ids: pages.flatMap((p) => p.items.map((c) => c.id)), pages };
}

const since = (start: number): WireRequest[] => proxy.requests.slice(start);
const onList = (requests: WireRequest[]): WireRequest[] =>
  requests.filter((r) => /^\/v1\/customers(\?|$)/i.test(r.path));

beforeAll(async () => {
  sim = await startSimulator({ clock: steppedClock('2026-03-01T00:00:00Z'), scenario });
  proxy = await recordingProxy(sim.url, (request, index) => beforeForward?.(request, index));
});
afterAll(async () => {
  await proxy?.close();
  await sim?.close();
});
beforeEach(() => {
  beforeForward = undefined;
  sim.state.clearFaults();
  sim.setRateLimits({});
  sim.setPaging({});
});

describe('listing every customer', () => {
  it('2,000 customers, 500 a page, followed to the end: each once, in order; a new MS-RequestId per page', async () => {
    const start = proxy.requests.length;
    const { ids, pages } = await listAll(clientFor(), { correlationId: '0af7651916cd43dd8448eb211c80319c' });
    expect(ids).toEqual(ALL);
    expect(pages.map((p) => p.items.length)).toEqual([500, 500, 500, 500]);
    expect(pages.map((p) => p.next === undefined)).toEqual([false, false, false, true]);
    const wire = onList(since(start));
    expect(wire.map((r) => r.path)).toEqual([
      '/v1/customers?size=500',
      '/v1/customers?size=500&seekOperation=Next',
      '/v1/customers?size=500&seekOperation=Next',
      '/v1/customers?size=500&seekOperation=Next',
    ]);
    expect(wire.map((r) => r.method)).toEqual(['GET', 'GET', 'GET', 'GET']);
    expect(wire[0].headers['ms-continuationtoken']).toBeUndefined();
    for (const r of wire.slice(1)) expect(r.headers['ms-continuationtoken']).toEqual(expect.any(String));
    expect(new Set(wire.map((r) => r.headers['ms-requestid'])).size).toBe(4);
    expect(pages.map((p) => p.requestId)).toEqual(wire.map((r) => r.headers['ms-requestid']));
    expect(new Set(wire.map((r) => r.headers['ms-correlationid']))).toEqual(
      new Set(['0af76519-16cd-43dd-8448-eb211c80319c']),
    );
    for (const r of wire) {
      expect(r.headers).toMatchObject({ 'ms-contract-version': 'v1', accept: 'application/json', 'x-locale': 'en-US' });
      expect(r.headers['content-type']).toBeUndefined();
      expect(r.body).toBe('');
    }
    const first = pages[0].items[0];
    const truth = sim.state.customerTruth(first.id)!;
    expect(first).toEqual({
      id: truth.id,
      tenantId: truth.id,
      domain: truth.domain,
      companyName: truth.name,
      relationshipToPartner: truth.relationship,
    });
  });

  const forms: NextLinkForm[] = ['v1', 'root', 'relative', 'absolute'];
  const placements: ContinuationPlacement[] = ['header', 'headerAndBody', 'bodyOnly'];
  const cases = forms.flatMap((nextLink) =>
    placements.flatMap((continuation) =>
      [false, true].map((endWithError2000) => ({ nextLink, continuation, endWithError2000 })),
    ),
  );
  it.each(cases)(
    'pages capped at 250 (a cut-off that broke clients), next link $nextLink, token in $continuation, code-2000 end $endWithError2000',
    async (paging) => {
      sim.setPaging({ ...paging, maxPageSize: 250 });
      const start = proxy.requests.length;
      const { ids, pages } = await listAll(clientFor());
      expect(ids).toEqual(ALL);
      expect(pages).toHaveLength(8);
      const wire = onList(since(start));
      for (const r of wire) expect(r.path).not.toContain('//');
      // The last request: a page without a next link, or the 400 code-2000 answer that ends the list.
      expect(wire).toHaveLength(paging.endWithError2000 ? 9 : 8);
      const statuses = sim.state.counters().requests.customers.byStatus;
      if (paging.endWithError2000) expect(statuses['400']).toBeGreaterThanOrEqual(1);
    },
  );

  it('a stored cursor resumes a listing after a crash: the next page, nothing twice, nothing skipped', async () => {
    sim.setPaging({ nextLink: 'root', maxPageSize: 300 });
    const seen: string[] = [];
    let stored = '';
    for await (const page of clientFor().listCustomers()) {
      seen.push(...page.items.map((c) => c.id));
      stored = JSON.stringify(page.next);
      if (seen.length >= 900) break; // the process dies here; the cursor was stored
    }
    expect(seen).toHaveLength(900);
    const start = proxy.requests.length;
    const rest = await listAll(clientFor(), { resumeFrom: JSON.parse(stored) as PageCursor });
    expect([...seen, ...rest.ids]).toEqual(ALL);
    expect(onList(since(start))[0].path).toBe('/v1/customers?size=300&seekOperation=Next');
  });

  it('retries of a page keep its MS-RequestId: a 503, then a page cut in half, then the page', async () => {
    const client = clientFor();
    const start = proxy.requests.length;
    beforeForward = (_request, index) => {
      if (index === start + 1) sim.setFaults('customers', { status503: 1 });
      if (index === start + 2) sim.setFaults('customers', { malformedJson: 1 });
      if (index === start + 3) sim.setFaults('customers', null);
    };
    const { ids } = await listAll(client);
    expect(ids).toEqual(ALL);
    const wire = onList(since(start));
    expect(wire).toHaveLength(6);
    const requestIds = wire.map((r) => r.headers['ms-requestid']);
    expect(requestIds[1]).toBe(requestIds[2]);
    expect(requestIds[2]).toBe(requestIds[3]);
    expect(new Set(requestIds).size).toBe(4);
    expect(sim.state.counters().faultsInjected).toMatchObject({ status503: 1, malformedJson: 1 });
  });

  it("throttling 'return': a 429 comes straight back, the simulator lets no more through, the cursor resumes", async () => {
    sim.setRateLimits({ perPartner: { ratePerSecond: 0.05, burst: 2 } });
    sim.state.resetCounters();
    const seen: string[] = [];
    let cursor: PageCursor | undefined;
    const start = proxy.requests.length;
    const error = await failure(
      (async () => {
        for await (const page of clientFor().listCustomers({ throttling: 'return' })) {
          seen.push(...page.items.map((c) => c.id));
          cursor = page.next;
        }
      })(),
    );
    expect(error).toMatchObject({ status: 429, category: 'throttled', operation: 'listCustomers' });
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(onList(since(start))).toHaveLength(3);
    expect(sim.state.counters().requests.customers.byStatus).toEqual({ '200': 2, '429': 1 });
    sim.setRateLimits({});
    const rest = await listAll(clientFor(), { resumeFrom: cursor });
    expect([...seen, ...rest.ids]).toEqual(ALL);
  });

  it("throttling 'wait' (the default): the page waits out Retry-After with the same MS-RequestId", async () => {
    sim.setRateLimits({ perPartner: { ratePerSecond: 1, burst: 1 } });
    sim.state.resetCounters();
    const start = proxy.requests.length;
    const { ids } = await listAll(clientFor());
    expect(ids).toEqual(ALL);
    const wire = onList(since(start));
    const throttled = sim.state.counters().throttled.byRoute.customers ?? 0;
    expect(throttled).toBeGreaterThanOrEqual(1);
    expect(wire).toHaveLength(4 + throttled);
    expect(new Set(wire.map((r) => r.headers['ms-requestid'])).size).toBe(4);
  }, 20_000);
});

describe('a customer at a time: subscriptions, agreements, usage records, eligibility', () => {
  async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < items.length) await work(items[next++]);
      }),
    );
  }

  it('all 2,000 customers read through the client agree with the ground truth, customer by customer', async () => {
    const client = new PartnerCenterClient({
      baseUrl: sim.url,
      credential: new SecureAppModelCredential({
        tenantId: sim.credentials.tenantId,
        clientId: sim.credentials.clientId,
        authorityHost: sim.url,
        secretStore: new MemorySecretStore({
          PARTNER_CENTER_CLIENT_SECRET: sim.credentials.clientSecret,
          PARTNER_CENTER_REFRESH_TOKEN: sim.credentials.refreshToken,
        }),
      }),
      applicationName: 'fleet-tests',
      attemptTimeoutMs: 5000,
      maxAttempts: 3,
    });
    const upgraded = new Map<string, boolean | undefined>();
    for await (const page of client.listUsageRecords()) {
      for (const record of page.items) upgraded.set(record.customerId, record.isUpgraded);
    }
    const mismatches: string[] = [];
    const check = (truth: CustomerTruth, what: string, actual: unknown, expected: unknown): void => {
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        mismatches.push(`${truth.id} ${what}: got ${JSON.stringify(actual)}, truth ${JSON.stringify(expected)}`);
      }
    };
    const kinds = new Set<string>();
    await pool(sim.state.customerTruths(0, CUSTOMERS), 8, async (truth) => {
      kinds.add(truth.eligibility.reason ?? 'eligible');
      if (truth.relationship === 'advisor') {
        const refused = await failure(client.getCustomerSubscriptions(truth.id));
        check(truth, 'subscriptions refused', [refused.code, refused.category], [20002, 'business-rule']);
        check(truth, 'usage record', upgraded.has(truth.id), false);
        return;
      }
      const [subs, agreements, eligibility] = await Promise.all([
        client.getCustomerSubscriptions(truth.id),
        client.getCustomerAgreements(truth.id),
        client.checkEligibility({ customerId: truth.id, productFamily: 'Azure' }),
      ]);
      check(
        truth,
        'legacy subscriptions',
        subs.legacy.map((s) => ({
          id: s.id,
          entitlementId: s.entitlementId,
          status: s.status,
          ...(s.partnerId ? { partnerId: s.partnerId } : {}),
        })),
        truth.legacySubscriptions,
      );
      check(truth, 'Azure plans', subs.azurePlans.map((s) => s.id).sort(), truth.azurePlans.map((p) => p.id).sort());
      check(truth, 'agreement', agreements.length > 0, truth.agreementAttested);
      check(truth, 'eligible', eligibility.isEligible, truth.eligibility.isEligible);
      check(truth, 'upgrade id', eligibility.upgradeId, truth.eligibility.upgradeId);
      const hasAzure = truth.legacySubscriptions.length > 0 || truth.onAzurePlan;
      check(truth, 'usage record', upgraded.get(truth.id), hasAzure ? truth.onAzurePlan : undefined);
    });
    expect(mismatches).toEqual([]);
    expect(kinds).toEqual(
      new Set([
        'eligible',
        'alreadyUpgraded',
        'upgradeInProgress',
        'advisorRelationship',
        'noCustomerAgreement',
        'noAzureSubscriptions',
        'suspendedSubscriptions',
        'boughtRecently',
        'azurePartnerSharedServices',
      ]),
    );
  }, 120_000);

  it('the agreement type is always on the wire; without it the same customer would seem to have one', async () => {
    const noMca = sim.state.customerTruths(0, CUSTOMERS).find((t) => t.eligibility.reason === 'noCustomerAgreement')!;
    const start = proxy.requests.length;
    expect(await clientFor().getCustomerAgreements(noMca.id)).toEqual([]);
    expect(since(start).map((r) => r.path)).toEqual([
      `/v1/customers/${noMca.id}/agreements?agreementType=MicrosoftCustomerAgreement`,
    ]);
    // The pitfall the client avoids: the same request without the type answers the older cloud agreement.
    const token = since(start)[0].headers.authorization as string;
    const omitted = await fetch(`${sim.url}/v1/customers/${noMca.id}/agreements`, {
      headers: { Authorization: token },
    });
    expect(((await omitted.json()) as { items: Array<{ type: string }> }).items.map((i) => i.type)).toEqual([
      'MicrosoftCloudAgreement',
    ]);
  });

  it('subscriptions narrowed to one reseller; subscriptions throttled per customer; every call a dependency', async () => {
    const indirect = sim.state
      .customerTruths(0, CUSTOMERS)
      .find((t) => new Set(t.legacySubscriptions.map((s) => s.partnerId)).size > 1)!;
    const reseller = indirect.legacySubscriptions[0].partnerId!;
    const telemetry = new RecordingTelemetry();
    const client = clientFor({ telemetry, maxAttempts: 1 });
    const narrowed = await client.getCustomerSubscriptions(indirect.id, { resellerMpnId: reseller });
    expect(narrowed.legacy.map((s) => s.id)).toEqual(
      indirect.legacySubscriptions.filter((s) => s.partnerId === reseller).map((s) => s.id),
    );
    expect(narrowed.all.every((s) => s.partnerId === reseller)).toBe(true);

    sim.setRateLimits({ perCustomer: { ratePerSecond: 0.05, burst: 1 } });
    const other = sim.state
      .customerTruths(0, CUSTOMERS)
      .find((t) => t.relationship === 'reseller' && t.id !== indirect.id)!;
    await client.getCustomerSubscriptions(other.id);
    expect(await failure(client.getCustomerSubscriptions(other.id, { throttling: 'return' }))).toMatchObject({
      status: 429,
      category: 'throttled',
    });
    await expect(client.getCustomerSubscriptions(indirect.id)).resolves.toMatchObject({ customerId: indirect.id });

    expect(new Set(telemetry.dependencies.map((d) => d.name))).toEqual(
      new Set(['GET /v1/customers/{id}/subscriptions']),
    );
    for (const d of telemetry.dependencies) {
      expect(d.properties?.['MS-RequestId']).toMatch(/^[0-9a-f-]{36}$/);
      expect(d.properties?.['MS-CV']).toEqual(expect.any(String));
    }
  });
});

it('captured logs contain no access token, refresh token or continuation token', () => {
  const secrets = new Set<string>([sim.credentials.clientSecret, sim.credentials.refreshToken]);
  for (const request of proxy.requests) {
    const authorization = request.headers.authorization;
    if (typeof authorization === 'string' && authorization.startsWith('Bearer ')) secrets.add(authorization.slice(7));
    const continuation = request.headers['ms-continuationtoken'];
    if (typeof continuation === 'string') secrets.add(continuation);
  }
  expect(logLines.length).toBeGreaterThan(0);
  const all = logLines.join('\n');
  for (const secret of secrets) expect(all).not.toContain(secret);
});
