import { randomUUID } from 'node:crypto';
import { freePort } from '../../../dev/free-port';
import { resetServices } from '../../../shared/services';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { stackServices, startHostedStack, type HttpAnswer, type HostedStack } from '../../../dev/stack';
import { documentedCalls, type ProblemBody } from '../../helpers/api';
import { deadStorageConnectionString } from '../../helpers/dead-storage';
import { eligible } from './customers';

/**
 * Every dependency failing under the webhooks and the read API: Partner Center throttling, 5xx, down, refusing the
 * refresh token; Table Storage down. Each answer is a documented 503 problem with Retry-After, never a 500.
 */
describe('dependency failures answer 503 problem details with Retry-After', () => {
  let stack: HostedStack;

  beforeAll(async () => {
    stack = await startHostedStack({
      tablePrefix: 'apifail',
      settings: { PARTNER_CENTER_TIMEOUT_SECONDS: '5', PARTNER_CENTER_MAX_ATTEMPTS: '2' },
    });
  });
  afterAll(async () => stack?.stop());
  afterEach(() => {
    stack.sim.state.clearFaults();
    stack.sim.setRateLimits({});
    stack.install();
  });

  const api = documentedCalls(() => stack);
  /** A signed POST, with this webhook-id (default a new one). */
  const call = (path: string, body: object, webhookId?: string) => api.post(path, body, { webhookId });
  const read = api.get;

  function expectUnavailable(response: HttpAnswer, type = 'dependency-unavailable'): number {
    expect(response.status).toBe(503);
    expect((response.body as ProblemBody).type).toBe(`urn:azure-plan-upgrades:problem:${type}`);
    expect(response.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(response.text).not.toMatch(/\bat .+\.(ts|js):\d+/); // no stack trace
    return Number(response.headers['retry-after']);
  }

  it('Partner Center throttling (429 beyond what a retry may wait) → 503 with its Retry-After', async () => {
    const customerId = eligible(1);
    stack.sim.setRateLimits({ perCustomer: { ratePerSecond: 0.01, burst: 1 } });
    expect((await call('/eligibility', { customerId })).status).toBe(200);
    for (const path of ['/eligibility', '/upgrades']) {
      const retryAfter = expectUnavailable(await call(path, { customerId }));
      expect(retryAfter).toBeGreaterThan(60); // Partner Center's own Retry-After (about 100 s), passed on
    }
    expect(stack.sim.state.counters().throttled.total).toBeGreaterThanOrEqual(2);
    expect(stack.sim.state.listUpgrades({ customerId })).toHaveLength(0);
  });

  it.each([
    ['eligibility 503', 'eligibility', '/eligibility', { status503: 1 }],
    ['eligibility 500', 'eligibility', '/upgrades', { status500: 1 }],
    ['create 500', 'create', '/upgrades', { status500: 1 }],
    ['create 408', 'create', '/upgrades', { status408: 1 }],
  ] as const)('Partner Center %s fault → 503', async (_name, route, path, faults) => {
    stack.sim.setFaults(route, faults);
    expectUnavailable(await call(path, { customerId: eligible(2) }));
  });

  it('a 503 is not kept for replay: the same webhook-id retried after recovery runs again', async () => {
    const customerId = eligible(6);
    const webhookId = `msg_${randomUUID()}`;
    stack.sim.setFaults('eligibility', { status503: 1 });
    expectUnavailable(await call('/upgrades', { customerId }, webhookId));
    stack.sim.state.clearFaults();
    const retried = await call('/upgrades', { customerId }, webhookId);
    expect(retried.status).toBe(202);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(stack.sim.state.listUpgrades({ customerId })).toHaveLength(1);
  });

  it('Partner Center down (nothing listens) → 503', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    resetServices(
      stackServices({ ...stack.settings, PARTNER_CENTER_API_URL: dead, PARTNER_CENTER_AUTHORITY_HOST: dead }),
    );
    for (const path of ['/eligibility', '/upgrades']) expectUnavailable(await call(path, { customerId: eligible(3) }));
  });

  it('Table Storage down → 503 on every endpoint', async () => {
    const connectionString = await deadStorageConnectionString();
    resetServices(stackServices({ ...stack.settings, AzureWebJobsStorage: connectionString }));
    // Concurrently: each one spends the storage SDK's retries (a few seconds) before answering.
    const responses = await Promise.all([
      call('/eligibility', { customerId: eligible(4) }),
      call('/upgrades', { customerId: eligible(4) }),
      call('/eligibility', { customerId: eligible(4) }, randomUUID()),
      read(`/upgrades/${randomUUID()}`),
      read(`/customers/${eligible(4)}/upgrades`),
    ]);
    for (const response of responses) expectUnavailable(response);
  }, 60_000);

  // Last: the simulator's refresh tokens stay dead afterwards.
  it('refresh token refused (invalid_grant) → 503 partner-center-auth and a RefreshTokenInvalid event', async () => {
    stack.sim.state.expireRefreshTokens();
    stack.sim.state.expireAccessTokens();
    const telemetry = new RecordingTelemetry();
    resetServices(stackServices(stack.settings, { telemetry }));
    for (const path of ['/eligibility', '/upgrades']) {
      const response = await call(path, { customerId: eligible(5) });
      expectUnavailable(response, 'partner-center-auth');
      expect((response.body as ProblemBody).detail).toMatch(/consent/);
    }
    expect(telemetry.events.filter((e) => e.name === 'RefreshTokenInvalid').length).toBeGreaterThanOrEqual(1);
    expect(stack.sim.state.counters().tokenRequests.byGrant.refresh_token).toBeGreaterThan(0);
  });
});
