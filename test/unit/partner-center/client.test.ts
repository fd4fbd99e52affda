import {
  PartnerCenterClient,
  PartnerCenterError,
  PartnerCenterNetworkError,
  PartnerCenterTimeoutError,
  type PartnerCenterClientOptions,
} from '../../../shared/partner-center';
import { freePort } from '../../../dev/free-port';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { CountingCredential, json, loopback, type Handler, type Loopback } from './loopback';

const CUSTOMER = 'c0ffee00-1111-4222-8333-444455556666';
const UPGRADE = '42d075a4-bfe7-43e7-af6d-7c68a57edcb4';
const request = { customerId: CUSTOMER, productFamily: 'Azure' };

let server: Loopback;
const servers: Loopback[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function clientFor(handler: Handler, options: Partial<PartnerCenterClientOptions> = {}) {
  server = await loopback(handler);
  servers.push(server);
  const credential = new CountingCredential();
  const client = new PartnerCenterClient({
    baseUrl: `${server.url}/`,
    credential,
    applicationName: 'azure-plan-upgrades-test',
    attemptTimeoutMs: 2000,
    maxAttempts: 3,
    retryDelay: { baseMs: 5, maxMs: 20 },
    ...options,
  });
  return { client, credential };
}

describe('PartnerCenterClient on the wire', () => {
  it('checkEligibility: POST, path, camelCase body, every documented header', async () => {
    const { client } = await clientFor((_req, res) =>
      json(res, 200, { customerId: CUSTOMER, productFamily: 'Azure', isEligible: true, unknownField: 1 }),
    );
    const result = await client.checkEligibility(request, { correlationId: UPGRADE });
    expect(result).toEqual({ customerId: CUSTOMER, productFamily: 'Azure', isEligible: true });
    const sent = server.requests[0];
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/v1/productUpgrades/eligibility');
    expect(JSON.parse(sent.body)).toEqual({ customerId: CUSTOMER, productFamily: 'Azure' });
    expect(sent.headers).toMatchObject({
      authorization: 'Bearer test-token-1',
      accept: 'application/json',
      'content-type': 'application/json',
      'ms-contract-version': 'v1',
      'x-locale': 'en-US',
      'ms-partnercenter-application': 'azure-plan-upgrades-test',
      'ms-correlationid': UPGRADE,
    });
    expect(sent.headers['ms-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.headers['user-agent']).toContain('azure-plan-upgrades-test');
  });

  it('keeps MS-RequestId across retries of one call, gets a token per attempt, and uses a new id per call', async () => {
    const { client, credential } = await clientFor((_req, res, index) =>
      index === 0 ? json(res, 503, { code: 800003, description: 'busy' }) : json(res, 200, { isEligible: false }),
    );
    await client.checkEligibility(request);
    await client.checkEligibility(request);
    const ids = server.requests.map((r) => r.headers['ms-requestid']);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
    expect(credential.calls).toBe(3);
    const correlation = server.requests.map((r) => r.headers['ms-correlationid']);
    expect(correlation[0]).toBe(correlation[1]);
  });

  it('createUpgrade: upgrade id from the relative Location, the given requestId sent and returned', async () => {
    const { client } = await clientFor((_req, res) => {
      res.writeHead(202, { Location: `productUpgrades/${UPGRADE}` });
      res.end();
    });
    const requestId = '11111111-2222-4333-8444-555555555555';
    await expect(client.createUpgrade(request, { requestId })).resolves.toEqual({ upgradeId: UPGRADE, requestId });
    expect(server.requests[0]).toMatchObject({ path: '/v1/productUpgrades' });
    expect(server.requests[0].headers['ms-requestid']).toBe(requestId);
    const second = await client.createUpgrade(request);
    expect(second.requestId).toBe(server.requests[1].headers['ms-requestid']);
  });

  it('createUpgrade: a 202 without a usable Location is a (transient) error', async () => {
    const { client } = await clientFor((_req, res) => {
      res.writeHead(202, { Location: 'productUpgrades/' });
      res.end();
    });
    const error = (await client.createUpgrade(request).catch((e: unknown) => e)) as PartnerCenterError;
    expect(error).toBeInstanceOf(PartnerCenterError);
    expect(error).toMatchObject({ status: 202, category: 'transient', operation: 'createUpgrade' });
    expect(error.message).toMatch(/Location/);
  });

  it('getUpgradeStatus: path with the id, normalized and raw status', async () => {
    const { client } = await clientFor((_req, res) =>
      json(res, 200, { id: UPGRADE, status: 'inprogress', productFamily: 'Azure', lineItems: [] }),
    );
    const status = await client.getUpgradeStatus({ ...request, upgradeId: UPGRADE });
    expect(server.requests[0].path).toBe(`/v1/productUpgrades/${UPGRADE}/status`);
    expect(status).toMatchObject({
      upgradeId: UPGRADE,
      rawStatus: 'inprogress',
      status: 'InProgress',
      isTerminal: false,
    });
  });

  it('retries an unreadable 200 body, then fails transient if it stays unreadable', async () => {
    const { client } = await clientFor((_req, res) => json(res, 200, '{"id": "trunc'));
    const error = (await client
      .getUpgradeStatus({ ...request, upgradeId: UPGRADE })
      .catch((e: unknown) => e)) as PartnerCenterError;
    expect(error).toMatchObject({ status: 200, category: 'transient' });
    expect(server.requests).toHaveLength(3);
  });

  it('turns an error response into PartnerCenterError, logs it, and reports auth failures', async () => {
    const telemetry = new RecordingTelemetry();
    const logs: { level: string; message: string; props: unknown }[] = [];
    const { client } = await clientFor(
      (_req, res) =>
        json(res, 401, {
          code: 800001,
          description: 'Partner token missing or invalid.',
          data: [],
          source: 'PartnerFD',
        }),
      { telemetry, logger: (level, message, props) => logs.push({ level, message, props }) },
    );
    const error = (await client.checkEligibility(request).catch((e: unknown) => e)) as PartnerCenterError;
    expect(error).toMatchObject({
      status: 401,
      code: 800001,
      category: 'auth',
      description: 'Partner token missing or invalid.',
    });
    expect(error.requestId).toBe(server.requests[0].headers['ms-requestid']);
    expect(server.requests).toHaveLength(1);
    expect(telemetry.events.map((e) => e.name)).toEqual(['PartnerCenterAuthFailed']);
    expect(logs.some((l) => l.level === 'error' && l.message.includes('800001'))).toBe(true);
    expect(JSON.stringify(logs)).not.toContain('test-token');
  });

  it("a 429 is waited out by default, but comes straight back with its Retry-After under throttling: 'return'", async () => {
    let answered = 0;
    const { client } = await clientFor((_req, res) => {
      if (answered++ % 2 === 0) {
        // The second 429 asks for 50 s: a client that waited it out would outlast the test.
        const seconds = answered === 1 ? 1 : 50;
        res.setHeader('Retry-After', String(seconds));
        json(res, 429, { statusCode: 429, message: `Rate limit is exceeded. Try again in ${seconds} seconds.` });
      } else {
        json(res, 200, { id: UPGRADE, productFamily: 'Azure', status: 'InProgress', lineItems: [] });
      }
    });
    const upgrade = { ...request, upgradeId: UPGRADE };
    // Default: the client waits the second of Retry-After and the second attempt succeeds.
    const waited = await client.getUpgradeStatus(upgrade);
    expect(waited.status).toBe('InProgress');
    expect(server.requests).toHaveLength(2);

    const returned = await client.getUpgradeStatus(upgrade, { throttling: 'return' }).catch((e: unknown) => e);
    expect(server.requests).toHaveLength(3);
    expect(returned).toBeInstanceOf(PartnerCenterError);
    expect(returned).toMatchObject({ status: 429, category: 'throttled', retryAfterMs: 50_000 });
  });

  it('fails with PartnerCenterTimeoutError when every attempt times out', async () => {
    // A server that never answers: only the client's own attempt timeout ends each attempt.
    const { client } = await clientFor(() => undefined, { attemptTimeoutMs: 80, maxAttempts: 2 });
    const error = await client.checkEligibility(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerCenterTimeoutError);
    expect(error).toMatchObject({ category: 'transient', status: undefined });
    expect(server.requests).toHaveLength(2);
  });

  it("fails with PartnerCenterTimeoutError at the caller's deadline, even mid-backoff", async () => {
    // A backoff of a minute: a client that slept through the caller's deadline would outlast the test.
    const { client } = await clientFor((_req, res) => json(res, 503, { code: 800003 }), {
      retryDelay: { baseMs: 60_000, maxMs: 60_000 },
      maxAttempts: 5,
    });
    const error = (await client
      .checkEligibility(request, { abortSignal: AbortSignal.timeout(150) })
      .catch((e: unknown) => e)) as PartnerCenterError;
    // The last answer was a 503: the caller gets that real cause, at its deadline.
    expect(error).toMatchObject({ status: 503, category: 'transient' });
    expect(server.requests).toHaveLength(1);

    const slow = await clientFor(() => undefined); // never answers
    const timedOut = await slow.client
      .checkEligibility(request, { abortSignal: AbortSignal.timeout(100) })
      .catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(PartnerCenterTimeoutError);
  });

  it('fails with PartnerCenterNetworkError when nothing listens', async () => {
    const port = await freePort();
    const client = new PartnerCenterClient({
      baseUrl: `http://127.0.0.1:${port}`,
      credential: new CountingCredential(),
      applicationName: 'a',
      attemptTimeoutMs: 1000,
      maxAttempts: 2,
      retryDelay: { baseMs: 1, maxMs: 2 },
    });
    const error = await client.checkEligibility(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerCenterNetworkError);
    expect(error).toMatchObject({ category: 'transient', retryable: true });
  });

  it('passes credential errors through unchanged', async () => {
    server = await loopback((_req, res) => json(res, 200, {}));
    servers.push(server);
    class RefreshTokenInvalidError extends Error {
      readonly category = 'auth';
    }
    const client = new PartnerCenterClient({
      baseUrl: server.url,
      credential: { getToken: () => Promise.reject(new RefreshTokenInvalidError('consent again')) },
      applicationName: 'a',
      attemptTimeoutMs: 1000,
      maxAttempts: 3,
    });
    await expect(client.checkEligibility(request)).rejects.toBeInstanceOf(RefreshTokenInvalidError);
    expect(server.requests).toHaveLength(0);
  });
});
