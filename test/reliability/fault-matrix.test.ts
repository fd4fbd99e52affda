import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FaultSpec } from '../../dev/simulator';
import { FAULT_PROBABILITIES } from '../../dev/simulator/scenario';
import { customerIds, Rig, type RigOptions, type WebhookResult } from './rig';
import { prng, seedFor } from './prng';
import { DEFAULT_THROTTLE_PAUSE_MS } from '../../shared/tracking/poll-run';
import { deviceCodeConsent, InterferingTables } from './faults';

/**
 * The fault matrix: every fault of a dependency the app must survive, injected through the simulator (or a proxy in front of it, or
 * the storage wrapper), across the whole life of a batch of upgrades — start webhook with a webhook-id and the
 * caller's retries, the tracking queue, poll runs on the timer's cadence, billing callbacks. For each fault: our
 * tables end equal to the simulator's ground truth (nothing lost, nothing regressed, one upgrade per customer), the
 * webhook caller only ever sees 202 or 503 (never 500), and the fault's own error is the one surfaced.
 */
jest.setTimeout(120_000);

const CUSTOMERS = 8;

interface CaseResult {
  rig: Rig;
  statuses: number[];
  /** Every 503 (or 409 in progress) the callers were given before a definite answer. */
  refusals: WebhookResult[];
  responses: WebhookResult[];
}

/** Starts every customer's upgrade (with the caller's retries), tracks, and polls to the end under `faults`. */
interface Hooks {
  /** Before the first webhook. */
  inject?: (rig: Rig) => void | Promise<void>;
  /** After tracking, while every upgrade is still Pending. */
  midway?: (rig: Rig) => void | Promise<void>;
  /** After a first stretch of runs under the fault: lift it, and the rest must finish. */
  heal?: (rig: Rig) => void | Promise<void>;
}

async function lifeUnder(name: string, options: Partial<RigOptions>, hooks: Hooks): Promise<CaseResult> {
  const { inject, midway, heal } = hooks;
  const seed = seedFor(`fault matrix: ${name}`);
  const rig = await Rig.start({ label: 'fm', customers: CUSTOMERS, seed, ...options });
  try {
    await inject?.(rig);
    const statuses: number[] = [];
    const responses: WebhookResult[] = [];
    const refusals: WebhookResult[] = [];
    for (const customerId of customerIds(rig)) {
      const { final, seen, refusals: refused } = await rig.startUpgradeWithRetries(customerId);
      statuses.push(...seen);
      responses.push(final);
      refusals.push(...refused);
    }
    await rig.pumpTracking();
    await midway?.(rig);
    await rig.runToEnd(6);
    if (heal) {
      await heal(rig);
      await rig.pumpTracking();
    }
    await rig.runToEnd(8);
    const problems = await rig.truthDiff();
    expect({ seed, problems }).toEqual({ seed, problems: [] });
    expect(rig.sim.state.listUpgrades()).toHaveLength(customerIds(rig).length);
    expect({ seed, callbacks: rig.callbackDiff(await rig.observe()) }).toEqual({ seed, callbacks: [] });
    // the caller saw only success or "try again later", never a 500; a retry after a lost answer may find the
    // upgrade its first attempt made: 409 pointing at that very upgrade
    expect(statuses.filter((s) => s !== 202 && s !== 409 && s !== 503)).toEqual([]);
    const truthByCustomer = new Map(rig.sim.state.listUpgrades().map((u) => [u.customerId.toLowerCase(), u.id]));
    customerIds(rig).forEach((customerId, i) => {
      const answer = responses[i];
      const upgradeId = answer.body?.upgradeId; // in the 202 representation and in the 409 problem alike
      expect({ customerId, status: answer.status, upgradeId }).toEqual({
        customerId,
        status: answer.status,
        upgradeId: truthByCustomer.get(customerId),
      });
    });
    // every refusal is a documented problem telling the caller to come back, never a stack trace
    for (const refusal of refusals) {
      if (refusal.status === 503) expect(refusal.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(JSON.stringify(refusal.body)).not.toMatch(/\bat .+\.(ts|js):\d+/);
    }
    return { rig, statuses, responses, refusals };
  } catch (error) {
    await rig.stop();
    throw error;
  }
}

/**
 * `spec` at random on every route, and for certain on the first status poll (a POST answered with a JSON body, which
 * every fault can hit): whatever the seed draws, each case meets its fault at least once.
 */
function injectEverywhere(rig: Rig, spec: FaultSpec): void {
  rig.sim.setFaults('*', spec);
  const certain = Object.fromEntries(FAULT_PROBABILITIES.filter((key) => spec[key]).map((key) => [key, 1]));
  rig.sim.setFaults('status', { ...certain, times: 1 });
}

function faultsInjected(rig: Rig): number {
  return Object.values(rig.sim.state.counters().faultsInjected).reduce((a, b) => a + b, 0);
}

describe('fault matrix: every upgrade ends in its true state, callers get 202 or 503', () => {
  const rigs: Rig[] = [];
  afterAll(async () => {
    for (const rig of rigs) await rig.stop();
  });
  async function run(...args: Parameters<typeof lifeUnder>): Promise<CaseResult> {
    const result = await lifeUnder(...args);
    rigs.push(result.rig);
    return result;
  }

  it('baseline: no fault', async () => {
    const { rig, statuses } = await run('baseline', {}, {});
    expect(statuses.every((s) => s === 202)).toBe(true);
    expect(rig.sim.state.counters().requests.create.total).toBe(CUSTOMERS);
  });

  it.each<[string, FaultSpec]>([
    ['500', { status500: 0.3 }],
    ['503', { status503: 0.3 }],
    ['408', { status408: 0.3 }],
    ['connection resets after processing (answer lost)', { connectionReset: 0.25, connectionResetPhase: 'after' }],
    ['connection resets before processing', { connectionReset: 0.25, connectionResetPhase: 'before' }],
    ['malformed JSON bodies', { malformedJson: 0.3 }],
  ])('%s on every route', async (name, spec) => {
    const { rig, refusals } = await run(name, {}, { inject: (r) => injectEverywhere(r, spec) });
    expect(faultsInjected(rig)).toBeGreaterThan(0);
    // the caller was told the dependency is unavailable (after the client's own retries ran out), nothing else
    const types = new Set(refusals.map((r) => r.body?.type));
    for (const type of types) expect(type).toBe('urn:azure-plan-upgrades:problem:dependency-unavailable');
  });

  it('latency past the attempt timeout: the attempt is cut and retried, a lost create is not doubled', async () => {
    const { rig } = await run(
      'latency past timeout',
      { customers: 3, settings: { PARTNER_CENTER_TIMEOUT_SECONDS: '1' } },
      {
        // on create, where a timed-out attempt that Partner Center did process must not become a second upgrade: the
        // first two create attempts answer after 1.5 s, Partner Center having made the upgrade at the first
        inject: (r) => r.sim.setFaults('create', { latencyMs: 1500, times: 2 }),
      },
    );
    // the app's own record of its attempts (the simulator counts a held answer only when it writes it, later)
    const creates = rig.telemetry.dependencies.filter((d) => d.name === 'POST /v1/productUpgrades');
    expect(creates.filter((d) => d.resultCode === 'Timeout').length).toBeGreaterThanOrEqual(2);
    // the cut attempts were sent again, and still one upgrade per customer (checked in lifeUnder)
    expect(creates.length).toBeGreaterThanOrEqual(3 + 2);
  });

  it('token expiry mid-run: 401 → a new access token, the call retried', async () => {
    const { rig } = await run('token expiry', {}, { inject: (r) => injectEverywhere(r, { tokenExpiry: 0.15 }) });
    expect(faultsInjected(rig)).toBeGreaterThan(0);
    expect(rig.sim.state.counters().tokenRequests.succeeded).toBeGreaterThan(1);
  });

  it('429 with Retry-After: waited as told; the whole poll run pauses; nothing fails for it', async () => {
    const { rig } = await run(
      '429 with Retry-After',
      {},
      {
        inject: (r) => r.sim.setRateLimits({ perPartner: { ratePerSecond: 5, burst: 3 } }),
        heal: (r) => r.sim.setRateLimits({}),
      },
    );
    expect(rig.sim.state.counters().throttled.total).toBeGreaterThan(0);
  });

  it('429 without Retry-After (stripped by a proxy): the caller gets 503, the run pauses its default 30 s', async () => {
    let proxy: Server | undefined;
    try {
      let refused: WebhookResult | undefined;
      const { rig } = await run(
        '429 without Retry-After',
        {
          partnerCenterUrl: async (simUrl) => {
            proxy = await stripRetryAfterProxy(simUrl);
            return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
          },
        },
        {
          inject: async (r) => {
            // one token per 5 s: the second call meets 429s that say nothing about when to come back
            r.sim.setRateLimits({ perPartner: { ratePerSecond: 0.2, burst: 1 } });
            const body = { customerId: customerIds(r)[0], productFamily: 'Azure' };
            await r.webhook('eligibility', body);
            refused = await r.webhook('eligibility', body);
            r.sim.setRateLimits({ perPartner: { ratePerSecond: 5, burst: 3 } });
          },
          heal: (r) => r.sim.setRateLimits({}),
        },
      );
      expect(rig.sim.state.counters().throttled.total).toBeGreaterThan(0);
      // the webhook caller was told to come back later, with a Retry-After of our own
      expect(refused?.status).toBe(503);
      expect(refused?.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      const throttledRuns = rig.runs.filter((r) => r.throttled > 0);
      expect(throttledRuns.length).toBeGreaterThan(0);
      // The gate's clock is a sum of floating-point steps: allow a millisecond of rounding (29999.994 was seen).
      for (const run of throttledRuns) expect(run.slept).toBeGreaterThanOrEqual(DEFAULT_THROTTLE_PAUSE_MS - 1);
    } finally {
      proxy?.closeAllConnections();
      await new Promise((resolve) => proxy?.close(resolve));
    }
  });

  it('invalid_grant: runs stop with the distinct auth error, nothing is lost; after consent again all finish', async () => {
    const { rig } = await run(
      'invalid_grant',
      {},
      {
        midway: async (r) => {
          // the upgrades are tracked and Pending; now the refresh token dies (unused 90 days, consent revoked)
          r.sim.state.expireRefreshTokens();
          r.sim.state.expireAccessTokens();
          r.clock.advance(31 * 60_000);
          const blocked = await r.poll();
          expect(blocked.stoppedBy).toBe('auth');
          const refused = await r.webhook('eligibility', { customerId: customerIds(r)[0], productFamily: 'Azure' });
          expect(refused.status).toBe(503);
          expect(refused.body?.type).toBe('urn:azure-plan-upgrades:problem:partner-center-auth');
          expect(r.telemetry.events.some((e) => e.name === 'RefreshTokenInvalid')).toBe(true);
          for (const view of (await r.observe()).values()) expect(view?.status).toBe('Pending');
          // the operator consents again: a new refresh token lands in the secret store
          await r.services.secrets.set('PARTNER_CENTER_REFRESH_TOKEN', await deviceCodeConsent(r));
        },
      },
    );
    expect(rig.sim.state.counters().tokenRequests.byGrant.refresh_token).toBeGreaterThan(1);
  });

  it('Table 412 conflicts: a concurrent writer moves rows under every writer; re-read and re-apply converge', async () => {
    let interfering: InterferingTables | undefined;
    await run(
      '412 conflicts',
      {
        wrapTables: (tables) => {
          interfering = new InterferingTables(tables, 0.3, prng(7));
          return interfering.tables;
        },
      },
      {},
    );
    expect(interfering!.conflictsCaused).toBeGreaterThan(5);
  });
});

/** A proxy to the simulator that removes Retry-After from 429 answers (Partner Center sometimes omits it). */
async function stripRetryAfterProxy(target: string): Promise<Server> {
  const url = new URL(target);
  const server = createServer((req, res) => {
    const upstream = httpRequest(
      { host: url.hostname, port: url.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const headers = { ...answer.headers };
        if (answer.statusCode !== 429) {
          res.writeHead(answer.statusCode ?? 502, headers);
          answer.pipe(res);
          return;
        }
        // neither the header nor the "Try again in N seconds" text: nothing says how long to wait
        const body = JSON.stringify({ statusCode: 429, message: 'Rate limit is exceeded.' });
        delete headers['retry-after'];
        headers['content-length'] = String(Buffer.byteLength(body));
        answer.resume();
        res.writeHead(429, headers).end(body);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
