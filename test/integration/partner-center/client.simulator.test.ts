import { randomUUID } from 'node:crypto';
import { startSimulator, steppedClock, type RunningSimulator, type SteppedClock } from '../../../dev/simulator';
import { stackSettings } from '../../../dev/stack';
import { loadConfig } from '../../../shared/config';
import {
  ClientCredentialInvalidError,
  PartnerCenterClient,
  RefreshTokenInvalidError,
  SecureAppModelCredential,
  createPartnerCenterClient,
  type PartnerCenterClientOptions,
  type PartnerCenterLogger,
} from '../../../shared/partner-center';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { MemorySecretStore } from '../../helpers/memory-secret-store';
import { recordingProxy, type RecordingProxy } from './recording-proxy';
import { failure } from '../../unit/partner-center/failure';

const CUSTOMERS = {
  lifecycle: randomUUID(),
  conflict: randomUUID(),
  failing: randomUUID(),
  suspended: randomUUID(),
  timeout: randomUUID(),
  reset: randomUUID(),
  replay: randomUUID(),
  other: randomUUID(),
};

/** Every log line the clients and credentials wrote in this file: checked for secrets at the end. */
const logLines: string[] = [];
const logger: PartnerCenterLogger = (level, message, props) =>
  logLines.push(`${level} ${message} ${JSON.stringify(props ?? {})}`);

let sim: RunningSimulator;
let clock: SteppedClock;
let proxy: RecordingProxy;
/** Runs before the proxy forwards a request: tests use it to change faults between two attempts. */
let beforeForward: ((path: string, index: number) => void) | undefined;
const stores: MemorySecretStore[] = [];

function storeFor(simulator: RunningSimulator): MemorySecretStore {
  const store = new MemorySecretStore({
    PARTNER_CENTER_CLIENT_SECRET: simulator.credentials.clientSecret,
    PARTNER_CENTER_REFRESH_TOKEN: simulator.credentials.refreshToken,
  });
  stores.push(store);
  return store;
}

function credentialFor(simulator: RunningSimulator, store = storeFor(simulator)): SecureAppModelCredential {
  return new SecureAppModelCredential({
    tenantId: simulator.credentials.tenantId,
    clientId: simulator.credentials.clientId,
    authorityHost: simulator.url,
    secretStore: store,
    logger,
    retryDelay: { baseMs: 5, maxMs: 20 },
  });
}

function clientFor(options: Partial<PartnerCenterClientOptions> = {}): PartnerCenterClient {
  return new PartnerCenterClient({
    baseUrl: proxy.url,
    credential: credentialFor(sim),
    applicationName: 'azure-plan-upgrades-tests',
    attemptTimeoutMs: 2000,
    maxAttempts: 3,
    retryDelay: { baseMs: 10, maxMs: 40 },
    logger,
    ...options,
  });
}

const requestIds = (requests: { headers: Record<string, unknown> }[]) => requests.map((r) => r.headers['ms-requestid']);

beforeAll(async () => {
  clock = steppedClock(Date.now());
  sim = await startSimulator({
    clock,
    scenario: {
      name: 'partner-center-client-tests',
      durations: { pendingSeconds: 10, inProgressSeconds: 50 },
      customers: [
        { id: CUSTOMERS.lifecycle, legacySubscriptions: 2 },
        { id: CUSTOMERS.conflict },
        {
          id: CUSTOMERS.failing,
          outcome: 'Failed',
          errorDetails: { code: 'UpgradeFailed', message: 'The Azure plan could not be bought.' },
        },
        { id: CUSTOMERS.suspended, ineligibleReason: 'suspendedSubscriptions' },
        { id: CUSTOMERS.timeout },
        { id: CUSTOMERS.reset },
        { id: CUSTOMERS.replay },
        { id: CUSTOMERS.other },
      ],
    },
  });
  proxy = await recordingProxy(sim.url, (request, index) => beforeForward?.(request.path, index));
});

afterAll(async () => {
  await proxy?.close();
  await sim?.close();
});

beforeEach(() => {
  beforeForward = undefined;
  sim.state.clearFaults();
  sim.setRateLimits({ perPartner: null, perCustomer: null });
});

describe('the client against the simulator', () => {
  it('walks an upgrade: eligible → create → not eligible with its id → Pending → InProgress → Completed', async () => {
    const env = stackSettings(
      { storage: 'UseDevelopmentStorage=true', partnerCenter: sim },
      { PARTNER_CENTER_API_URL: proxy.url },
    );
    const telemetry = new RecordingTelemetry();
    const client = createPartnerCenterClient(loadConfig(env), storeFor(sim), { telemetry, logger });
    const request = { customerId: CUSTOMERS.lifecycle, productFamily: 'Azure' };

    await expect(client.checkEligibility(request)).resolves.toMatchObject({ isEligible: true });
    const { upgradeId } = await client.createUpgrade(request);
    expect(sim.state.getUpgrade(upgradeId)).toMatchObject({ customerId: CUSTOMERS.lifecycle });
    await expect(client.checkEligibility(request)).resolves.toMatchObject({ isEligible: false, upgradeId });

    const pending = await client.getUpgradeStatus({ ...request, upgradeId });
    expect(pending).toMatchObject({ upgradeId, status: 'Pending', isTerminal: false });
    clock.advance(11_000);
    expect((await client.getUpgradeStatus({ ...request, upgradeId })).status).toBe('InProgress');
    clock.advance(60_000);
    const done = await client.getUpgradeStatus({ ...request, upgradeId });
    expect(done).toMatchObject({ rawStatus: 'Completed', status: 'Completed', isTerminal: true });
    expect(done.lineItems).toHaveLength(2);
    for (const item of done.lineItems) {
      expect(item.status).toBe('Completed');
      expect(item.upgradedDate).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
      expect(item.sourceProduct.name).toBeTruthy();
    }

    // Every call is a dependency carrying the ids Microsoft support asks for.
    const calls = telemetry.dependencies.filter((d) => d.name.includes('productUpgrades'));
    expect(calls).toHaveLength(6);
    for (const call of calls) {
      expect(call.properties).toMatchObject({
        'MS-RequestId': expect.stringMatching(/^[0-9a-f-]{36}$/),
        'MS-CorrelationId': expect.stringMatching(/^[0-9a-f-]{36}$/),
        'MS-CV': expect.any(String),
      });
      expect(call.properties?.['MS-CV']).not.toBe('');
    }
    // On the wire: a new MS-RequestId per logical call, and the documented headers.
    const wire = proxy.requests.slice(-6);
    expect(new Set(requestIds(wire)).size).toBe(6);
    expect(wire[1]).toMatchObject({ method: 'POST', path: '/v1/productUpgrades' });
    expect(wire[1].headers).toMatchObject({ 'ms-contract-version': 'v1', 'x-locale': 'en-US' });
  });

  it('reports a Failed upgrade with its errorDetails', async () => {
    const client = clientFor();
    const request = { customerId: CUSTOMERS.failing, productFamily: 'Azure' };
    const { upgradeId } = await client.createUpgrade(request);
    clock.advance(70_000);
    const status = await client.getUpgradeStatus({ ...request, upgradeId });
    expect(status).toMatchObject({ status: 'Failed', isTerminal: true });
    expect(status.errorDetails?.description).toContain('could not be bought');
  });

  it('maps every error the simulator produces to its code and category', async () => {
    const client = clientFor();
    const conflict = { customerId: CUSTOMERS.conflict, productFamily: 'Azure' };
    const { upgradeId } = await client.createUpgrade(conflict);

    const inProgress = await failure(client.createUpgrade(conflict));
    expect(inProgress).toMatchObject({ status: 409, code: 900109, category: 'conflict', existingUpgradeId: upgradeId });

    clock.advance(70_000);
    expect(await failure(client.createUpgrade(conflict))).toMatchObject({
      status: 400,
      code: 900110,
      category: 'conflict',
    });

    expect(await failure(client.getUpgradeStatus({ ...conflict, upgradeId: randomUUID() }))).toMatchObject({
      status: 404,
      code: 900106,
      category: 'not-found',
    });
    expect(
      await failure(client.getUpgradeStatus({ customerId: CUSTOMERS.other, productFamily: 'Azure', upgradeId })),
    ).toMatchObject({ status: 400, code: 900111, category: 'business-rule' });
    expect(await failure(client.checkEligibility({ customerId: 'not-a-guid', productFamily: 'Azure' }))).toMatchObject({
      status: 400,
      code: 900118,
      category: 'invalid-input',
    });
    expect(
      await failure(client.checkEligibility({ customerId: CUSTOMERS.other, productFamily: 'Office' })),
    ).toMatchObject({
      status: 400,
      code: 800002,
      category: 'invalid-input',
    });

    const suspended = { customerId: CUSTOMERS.suspended, productFamily: 'azure' };
    const eligibility = await client.checkEligibility(suspended);
    expect(eligibility.isEligible).toBe(false);
    expect(eligibility.reason).toMatch(/suspended/i);
    expect(await failure(client.createUpgrade(suspended))).toMatchObject({
      status: 403,
      code: 900105,
      category: 'business-rule',
    });

    // A token Partner Center does not accept: 401 800001, not retried.
    const bogus = new PartnerCenterClient({
      baseUrl: proxy.url,
      credential: {
        getToken: () => Promise.resolve({ token: 'not-a-real-token', expiresOnTimestamp: Date.now() + 60_000 }),
      },
      applicationName: 'tests',
      attemptTimeoutMs: 2000,
      maxAttempts: 3,
      logger,
    });
    const before = proxy.requests.length;
    expect(await failure(bogus.checkEligibility(conflict))).toMatchObject({
      status: 401,
      code: 800001,
      category: 'auth',
    });
    expect(proxy.requests.length - before).toBe(1);
  });

  it('gets a fresh token once when Partner Center refuses an expired one', async () => {
    const credential = credentialFor(sim);
    const client = clientFor({ credential });
    const request = { customerId: CUSTOMERS.other, productFamily: 'Azure' };
    await client.checkEligibility(request);
    sim.state.resetCounters();
    sim.state.expireAccessTokens();
    await expect(client.checkEligibility(request)).resolves.toMatchObject({ isEligible: true });
    expect(sim.state.counters().tokenRequests.total).toBe(1);
  });

  it('surfaces a 429 with its body and Retry-After when it may not wait', async () => {
    sim.setRateLimits({ perPartner: { ratePerSecond: 0.2, burst: 1 } });
    const client = clientFor({ maxAttempts: 1 });
    const request = { customerId: CUSTOMERS.other, productFamily: 'Azure' };
    await client.checkEligibility(request);
    const throttled = await failure(client.checkEligibility(request));
    expect(throttled).toMatchObject({ status: 429, category: 'throttled', retryable: true });
    expect(throttled.retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(throttled.description).toMatch(/Rate limit is exceeded/);
  });

  it('waits Retry-After on a 429, keeping the MS-RequestId of the call', async () => {
    sim.setRateLimits({ perPartner: { ratePerSecond: 1, burst: 1 } });
    const client = clientFor();
    const request = { customerId: CUSTOMERS.other, productFamily: 'Azure' };
    await client.checkEligibility(request);
    const first = proxy.requests.length;
    const started = Date.now();
    await expect(client.checkEligibility(request)).resolves.toMatchObject({ isEligible: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const attempts = proxy.requests.slice(first);
    expect(attempts).toHaveLength(2);
    expect(attempts[0].headers['ms-requestid']).toBe(attempts[1].headers['ms-requestid']);
    expect(attempts[0].headers['ms-requestid']).not.toBe(proxy.requests[first - 1].headers['ms-requestid']);
  });

  it("stops at the caller's deadline instead of waiting out a long Retry-After", async () => {
    sim.setRateLimits({ perPartner: { ratePerSecond: 0.1, burst: 1 } });
    const client = clientFor();
    const request = { customerId: CUSTOMERS.other, productFamily: 'Azure' };
    await client.checkEligibility(request);
    const started = Date.now();
    const error = await failure(client.checkEligibility(request, { abortSignal: AbortSignal.timeout(300) }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toMatchObject({ status: 429, category: 'throttled' });
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(5000);
  });

  it('retries 5xx up to maxAttempts with one MS-RequestId, then fails transient', async () => {
    sim.setFaults('eligibility', { status503: 1 });
    const client = clientFor({ maxAttempts: 3 });
    const first = proxy.requests.length;
    const error = await failure(client.checkEligibility({ customerId: CUSTOMERS.other, productFamily: 'Azure' }));
    expect(error).toMatchObject({ status: 503, category: 'transient' });
    const attempts = proxy.requests.slice(first);
    expect(attempts).toHaveLength(3);
    expect(new Set(requestIds(attempts)).size).toBe(1);
  });

  it('recovers from a 500 and from a malformed JSON body', async () => {
    const client = clientFor();
    const request = { customerId: CUSTOMERS.other, productFamily: 'Azure' };
    for (const fault of [{ status500: 1 }, { malformedJson: 1 }]) {
      sim.setFaults('eligibility', fault);
      const first = proxy.requests.length;
      beforeForward = (_path, index) => {
        if (index === first + 1) sim.state.clearFaults();
      };
      await expect(client.checkEligibility(request)).resolves.toMatchObject({ isEligible: true });
      expect(proxy.requests.length - first).toBe(2);
    }
  });

  it('a create retried after an attempt timeout makes one upgrade, not two', async () => {
    sim.setFaults('create', { latencyMs: 800 });
    const client = clientFor({ attemptTimeoutMs: 300 });
    const first = proxy.requests.length;
    beforeForward = (_path, index) => {
      if (index === first + 1) sim.state.clearFaults();
    };
    const result = await client.createUpgrade({ customerId: CUSTOMERS.timeout, productFamily: 'Azure' });
    const attempts = proxy.requests.slice(first);
    expect(attempts).toHaveLength(2);
    expect(new Set(requestIds(attempts))).toEqual(new Set([result.requestId]));
    const upgrades = sim.state.listUpgrades({ customerId: CUSTOMERS.timeout });
    expect(upgrades.map((u) => u.id)).toEqual([result.upgradeId]);
  });

  it('a create whose answer was lost (connection reset) is retried into the same upgrade', async () => {
    sim.setFaults('create', { connectionReset: 1, connectionResetPhase: 'after' });
    const client = clientFor();
    const first = proxy.requests.length;
    beforeForward = (_path, index) => {
      if (index === first + 1) sim.state.clearFaults();
    };
    const result = await client.createUpgrade({ customerId: CUSTOMERS.reset, productFamily: 'Azure' });
    expect(proxy.requests.length - first).toBe(2);
    expect(sim.state.listUpgrades({ customerId: CUSTOMERS.reset })).toHaveLength(1);
    expect(sim.state.getUpgrade(result.upgradeId)).toBeDefined();
  });

  it('a create replayed with the same requestId after a crash returns the same upgrade', async () => {
    const request = { customerId: CUSTOMERS.replay, productFamily: 'Azure' };
    const first = await clientFor().createUpgrade(request);
    const replay = await clientFor().createUpgrade(request, { requestId: first.requestId });
    expect(replay).toEqual(first);
    expect(sim.state.listUpgrades({ customerId: CUSTOMERS.replay })).toHaveLength(1);
  });

  it('50 concurrent calls on a cold credential make exactly one token request', async () => {
    const client = clientFor();
    sim.state.resetCounters();
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        client.checkEligibility({ customerId: CUSTOMERS.other, productFamily: 'Azure' }),
      ),
    );
    expect(results.every((r) => r.isEligible)).toBe(true);
    expect(sim.state.counters().tokenRequests.total).toBe(1);
  });

  it('stores the rotated refresh token, and the stored one works for the next process', async () => {
    const store = storeFor(sim);
    const credential = credentialFor(sim, store);
    await clientFor({ credential }).checkEligibility({ customerId: CUSTOMERS.other, productFamily: 'Azure' });
    await credential.flushRefreshTokenWrite();
    const rotated = store.values.get('PARTNER_CENTER_REFRESH_TOKEN');
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(sim.credentials.refreshToken);
    expect(store.writes).toHaveLength(1);

    const nextProcess = new MemorySecretStore({
      PARTNER_CENTER_CLIENT_SECRET: sim.credentials.clientSecret,
      PARTNER_CENTER_REFRESH_TOKEN: rotated,
    });
    stores.push(nextProcess);
    await expect(
      clientFor({ credential: credentialFor(sim, nextProcess) }).checkEligibility({
        customerId: CUSTOMERS.other,
        productFamily: 'Azure',
      }),
    ).resolves.toMatchObject({ isEligible: true });
  });
});

describe('credential failures against the simulator', () => {
  let authSim: RunningSimulator;
  beforeAll(async () => {
    authSim = await startSimulator({ scenario: { customers: [{ id: CUSTOMERS.other }] } });
  });
  afterAll(async () => authSim?.close());

  function authClient(store: MemorySecretStore): PartnerCenterClient {
    return new PartnerCenterClient({
      baseUrl: authSim.url,
      credential: credentialFor(authSim, store),
      applicationName: 'tests',
      attemptTimeoutMs: 2000,
      maxAttempts: 3,
      logger,
    });
  }

  it('a wrong client secret surfaces as ClientCredentialInvalidError', async () => {
    const store = storeFor(authSim);
    store.values.set('PARTNER_CENTER_CLIENT_SECRET', 'wrong-secret-value');
    const error = await authClient(store)
      .checkEligibility({ customerId: CUSTOMERS.other, productFamily: 'Azure' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientCredentialInvalidError);
  });

  it('an expired refresh token surfaces as RefreshTokenInvalidError telling the operator to consent again', async () => {
    authSim.state.expireRefreshTokens();
    authSim.state.resetCounters();
    const error = await authClient(storeFor(authSim))
      .checkEligibility({ customerId: CUSTOMERS.other, productFamily: 'Azure' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RefreshTokenInvalidError);
    expect((error as Error).message).toMatch(/AADSTS700082/);
    expect((error as Error).message).toContain('npm run consent');
    expect(authSim.state.counters().requests.eligibility).toBeUndefined();
  });
});

// Runs last (jest keeps file order): everything above has logged by now.
it('captured logs contain no token or secret', () => {
  // No token or secret in any log line: the simulator's secret and refresh tokens, every rotated refresh token
  // written to a store, and every access token seen on the wire.
  const secrets = new Set<string>([sim.credentials.clientSecret, sim.credentials.refreshToken]);
  for (const store of stores) {
    for (const write of store.writes) secrets.add(write.value);
    for (const value of store.values.values()) secrets.add(value);
  }
  for (const request of proxy.requests) {
    const authorization = request.headers.authorization;
    if (authorization?.startsWith('Bearer ')) secrets.add(authorization.slice('Bearer '.length));
  }
  secrets.delete('not-a-real-token'); // the test's own bogus token, not a secret
  expect(logLines.length).toBeGreaterThan(10);
  const all = logLines.join('\n');
  for (const secret of secrets) expect(all).not.toContain(secret);
});
