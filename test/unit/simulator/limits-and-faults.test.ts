import { startSimulator, steppedClock, type RunningSimulator } from '../../../dev/simulator';
import { accessToken, admin, json, pc, refreshGrant } from './helpers';

const A = '00000000-0000-4000-8000-000000000001';
const B = '00000000-0000-4000-8000-000000000002';

describe('simulator rate limits and fault injection', () => {
  let sim: RunningSimulator;
  let token: string;
  const eligibility = (customerId = A): Promise<Response> =>
    pc(sim, '/v1/productUpgrades/eligibility', { customerId, productFamily: 'Azure' }, { token });

  beforeEach(async () => {
    sim = await startSimulator({ port: 0, clock: steppedClock() });
    token = await accessToken(sim);
  });
  afterEach(() => sim.close());

  it('over the per-partner limit: 429, integer Retry-After and the documented 429 body; counted', async () => {
    sim.setRateLimits({ perPartner: { ratePerSecond: 0.2, burst: 2 } });
    expect((await eligibility()).status).toBe(200);
    expect((await eligibility(B)).status).toBe(200);
    const limited = await eligibility();
    expect(limited.status).toBe(429);
    const retryAfter = limited.headers.get('retry-after')!;
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(5);
    expect(await limited.json()).toEqual({
      statusCode: 429,
      message: `Rate limit is exceeded. Try again in ${retryAfter} seconds.`,
    });
    expect(limited.headers.get('ms-requestid')).toBeTruthy();
    const counters = sim.state.counters();
    expect(counters.throttled).toEqual({ total: 1, byRoute: { eligibility: 1 } });
    expect(counters.requests.eligibility.byStatus).toEqual({ '200': 2, '429': 1 });
  });

  it('the per-customer limit throttles one customer and not another; limits are settable through the admin API', async () => {
    const set = await admin(sim, 'PUT', '/rate-limits', { perCustomer: { ratePerSecond: 0.5, burst: 1 } });
    expect(set).toEqual({ perPartner: null, perCustomer: { ratePerSecond: 0.5, burst: 1 } });
    expect((await eligibility(A)).status).toBe(200);
    expect((await eligibility(A)).status).toBe(429);
    expect((await eligibility(B)).status).toBe(200);
    await admin(sim, 'PUT', '/rate-limits', {});
    expect((await eligibility(A)).status).toBe(200);
  });

  it('refills the bucket in real time so a client that waits Retry-After gets through', async () => {
    // The buckets run on the monotonic clock (performance.now), here a virtual one the test moves; timers, sockets
    // and Date stay real.
    jest.useFakeTimers({
      doNotFake: [
        'Date',
        'hrtime',
        'nextTick',
        'queueMicrotask',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
    });
    try {
      sim.setRateLimits({ perPartner: { ratePerSecond: 2, burst: 1 } });
      expect((await eligibility()).status).toBe(200);
      const limited = await eligibility();
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('1');
      jest.advanceTimersByTime(400); // not yet: a token comes every 500 ms
      expect((await eligibility()).status).toBe(429);
      jest.advanceTimersByTime(1000); // Retry-After, waited as told
      expect((await eligibility()).status).toBe(200);
    } finally {
      jest.useRealTimers();
    }
  });

  it('503 with probability 1 on one route only, with the Partner Center error body; cleared at run time', async () => {
    sim.setFaults('eligibility', { status503: 1 });
    const failed = await eligibility();
    expect(failed.status).toBe(503);
    expect(await json(failed)).toMatchObject({ code: 800003, source: 'PartnerFD' });
    expect(failed.headers.get('ms-correlationid')).toBeTruthy();
    expect(
      (await pc(sim, '/v1/productUpgrades/x/status', { customerId: A, productFamily: 'Azure' }, { token })).status,
    ).toBe(404);
    await admin(sim, 'DELETE', '/faults/eligibility');
    expect((await eligibility()).status).toBe(200);
    expect(sim.state.counters().faultsInjected).toEqual({ status503: 1 });
  });

  it('times: the entry covers only its next n requests, then is lifted and the "*" entry applies again', async () => {
    sim.setFaults('*', { status500: 1 });
    sim.setFaults('eligibility', { status503: 1, status500: 0, times: 2 });
    expect(sim.state.faults().eligibility?.times).toBe(2);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await eligibility()).status);
    expect(statuses).toEqual([503, 503, 500, 500]);
    expect(sim.state.faults().eligibility).toBeUndefined();
    // on "*", every faulted route's request counts
    sim.setFaults('*', { status503: 1, times: 1 });
    expect((await eligibility()).status).toBe(503);
    expect((await eligibility()).status).toBe(200);
    expect(sim.state.faults()).toEqual({});
    for (const times of [0, 1.5]) expect(() => sim.setFaults('create', { status503: 1, times })).toThrow(/times/);
  });

  it('injected 429s, with the given Retry-After or without the header at all', async () => {
    sim.setFaults('status', { status429: 1, retryAfterSeconds: 7 });
    const body = { customerId: A, productFamily: 'Azure' };
    const injected = await pc(sim, '/v1/productUpgrades/00000000-0000-4000-8000-00000000beef/status', body, { token });
    expect(injected.status).toBe(429);
    expect(injected.headers.get('retry-after')).toBe('7');
    expect(await injected.json()).toEqual({
      statusCode: 429,
      message: 'Rate limit is exceeded. Try again in 7 seconds.',
    });

    sim.setFaults('status', null);
    sim.setFaults('eligibility', { omitRetryAfter: true });
    sim.setRateLimits({ perPartner: { ratePerSecond: 0.1, burst: 1 } });
    expect((await eligibility()).status).toBe(200);
    const bare = await eligibility();
    expect(bare.status).toBe(429);
    expect(bare.headers.get('retry-after')).toBeNull();
    expect(sim.state.counters().throttled.total).toBe(2);
  });

  it('a 503 fault on the token route answers like Entra', async () => {
    await admin(sim, 'PUT', '/faults/token', { status503: 1 });
    const reply = await refreshGrant(sim);
    expect(reply.status).toBe(503);
    expect(reply.body.error).toBe('temporarily_unavailable');
    // The faulted request still counts as a token request (one from beforeEach, one here); only one token was issued.
    expect(sim.state.counters().tokenRequests).toEqual({ total: 2, succeeded: 1, byGrant: { refresh_token: 2 } });
  });

  it('adds latency (fixed + jitter) before answering', async () => {
    sim.setFaults('*', { latencyMs: 150, latencyJitterMs: 50 });
    const started = performance.now();
    expect((await eligibility()).status).toBe(200);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(145);
    expect(elapsed).toBeLessThan(5000);
  });

  it('resets the connection; with phase "after" the create still happened', async () => {
    sim.setFaults('create', { connectionReset: 1 });
    await expect(
      pc(
        sim,
        '/v1/productUpgrades',
        { customerId: A, productFamily: 'Azure' },
        { token, headers: { 'MS-RequestId': 'c0ffee00-0000-4000-8000-000000000001' } },
      ),
    ).rejects.toThrow();
    expect(sim.state.listUpgrades({ customerId: A })).toHaveLength(1);
    sim.setFaults('create', null);
    const retried = await pc(
      sim,
      '/v1/productUpgrades',
      { customerId: A, productFamily: 'Azure' },
      { token, headers: { 'MS-RequestId': 'c0ffee00-0000-4000-8000-000000000001' } },
    );
    expect(retried.status).toBe(202);
    expect(retried.headers.get('location')).toBe(`productUpgrades/${sim.state.listUpgrades({ customerId: A })[0].id}`);
    expect(sim.state.listUpgrades({ customerId: A })).toHaveLength(1);

    sim.setFaults('create', { connectionReset: 1, connectionResetPhase: 'before' });
    await expect(
      pc(sim, '/v1/productUpgrades', { customerId: B, productFamily: 'Azure' }, { token }),
    ).rejects.toThrow();
    expect(sim.state.listUpgrades({ customerId: B })).toHaveLength(0);
  });

  it('malformed JSON: a truncated body with a 200', async () => {
    sim.setFaults('eligibility', { malformedJson: 1 });
    const response = await eligibility();
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(() => JSON.parse(text) as unknown).toThrow();
    expect(text.startsWith('{"customerId"')).toBe(true);
  });

  it('token expiry fault: 401 800001, the token stays invalid, a refreshed one works', async () => {
    sim.setFaults('status', { tokenExpiry: 1 });
    const response = await pc(
      sim,
      '/v1/productUpgrades/00000000-0000-4000-8000-00000000dead/status',
      { customerId: A, productFamily: 'Azure' },
      { token },
    );
    expect(response.status).toBe(401);
    expect(await json(response)).toMatchObject({ code: 800001 });
    expect((await eligibility()).status).toBe(401);
    token = await accessToken(sim);
    expect((await eligibility()).status).toBe(200);
  });

  it('the admin API expires every access token, and every refresh token (invalid_grant)', async () => {
    expect(await admin(sim, 'POST', '/tokens/expire-access')).toMatchObject({ expired: 1 });
    expect((await eligibility()).status).toBe(401);
    await admin(sim, 'POST', '/tokens/expire-refresh');
    const reply = await refreshGrant(sim);
    expect(reply.body.error).toBe('invalid_grant');
  });

  it('faults are reproducible from the seed', async () => {
    const pattern = async (): Promise<number[]> => {
      const local = await startSimulator({
        port: 0,
        scenario: { seed: 7, customers: [{ id: A }], faults: { eligibility: { status500: 0.5 } } },
      });
      try {
        const t = (await refreshGrant(local)).body.access_token as string;
        const statuses: number[] = [];
        for (let i = 0; i < 12; i++) {
          statuses.push(
            (
              await pc(
                local,
                '/v1/productUpgrades/eligibility',
                { customerId: A, productFamily: 'Azure' },
                { token: t },
              )
            ).status,
          );
        }
        return statuses;
      } finally {
        await local.close();
      }
    };
    const first = await pattern();
    expect(first).toContain(500);
    expect(first).toContain(200);
    expect(await pattern()).toEqual(first);
  });
});
