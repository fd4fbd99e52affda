import { generateScenario, startSimulator, steppedClock, type RunningSimulator } from '../../../dev/simulator';
import { stackSettings } from '../../../dev/stack';
import { loadConfig } from '../../../shared/config';
import { createPartnerCenterClient } from '../../../shared/partner-center';
import { noTelemetry } from '../../../shared/telemetry/telemetry';
import { pollDueUpgrades } from '../../../shared/tracking/poll-run';
import { RequestGate } from '../../../shared/tracking/request-gate';
import { trackUpgrade } from '../../../shared/tracking/start-tracking';
import { MemorySecretStore } from '../../helpers/memory-secret-store';
import { pollConfig, RecordingNotifier, RecordingTracker, testStore } from './helpers';

const UPGRADES = 40;
/** The simulator's per-partner limit: 10 requests/s, burst 5; every 429 carries Retry-After: 1. */
const LIMIT = { ratePerSecond: 10, burst: 5 };
/** Configured twice the limit. */
const CONFIGURED_RATE = 20;

describe('poll run over the rate limit, against the simulator through the real client', () => {
  let sim: RunningSimulator;
  afterAll(async () => {
    await sim?.close();
  });

  it('every 429 reaches the run at once, the run slows down, and every upgrade is still polled', async () => {
    sim = await startSimulator({
      port: 0,
      clock: steppedClock(Date.now()),
      scenario: generateScenario({ customers: UPGRADES, seed: 11, mix: { eligible: 1 }, outcomes: { Completed: 1 } }),
    });
    const config = loadConfig(
      stackSettings(
        { storage: process.env.AzureWebJobsStorage ?? '', partnerCenter: sim },
        { PARTNER_CENTER_MAX_ATTEMPTS: '4' },
      ),
    );
    const secrets = new MemorySecretStore({
      PARTNER_CENTER_CLIENT_SECRET: sim.credentials.clientSecret,
      PARTNER_CENTER_REFRESH_TOKEN: sim.credentials.refreshToken,
    });
    const partnerCenter = createPartnerCenterClient(config, secrets);
    const { store } = testStore('trkthrottle');
    const upgradeIds: string[] = [];
    for (const customer of sim.scenario.customers) {
      const request = { customerId: customer.id, productFamily: 'Azure' };
      const { upgradeId } = await partnerCenter.createUpgrade(request);
      // Created here, not through the app: startTracking verifies it with Partner Center (one status call).
      await trackUpgrade({ ...request, upgradeId }, { store, firstPollDelayMs: 0, partnerCenter });
      upgradeIds.push(upgradeId);
    }
    sim.setRateLimits({ perPartner: LIMIT });
    sim.state.resetCounters();
    const gate = new RequestGate(CONFIGURED_RATE);

    const summary = await pollDueUpgrades({
      store,
      partnerCenter,
      config: pollConfig({ ratePerSecond: CONFIGURED_RATE, concurrency: 8 }),
      telemetry: noTelemetry,
      notify: new RecordingNotifier().notify,
      resend: new RecordingTracker().send,
      gate,
    });

    const counters = sim.state.counters();
    const status = counters.requests.status;
    // Every upgrade answered once; nothing given up or failed.
    expect(summary).toMatchObject({ due: UPGRADES, errors: 0, skipped: 0 });
    expect(status.byStatus['200']).toBe(UPGRADES);
    expect(summary.polled).toBe(UPGRADES + summary.throttled);
    // The client retried no 429 on its own: each one the simulator sent is one the run saw and paused for.
    expect(summary.throttled).toBeGreaterThan(0);
    expect(counters.throttled.total).toBe(summary.throttled);
    // Each 429 episode cut the rate once, and the cut brought the run back under the limit at once: no more than a
    // couple of 429s per episode (only calls already in flight when the first came back), not a 429 per call.
    expect(gate.rateCuts).toBeGreaterThanOrEqual(1);
    expect(summary.throttled).toBeLessThanOrEqual(2 * gate.rateCuts);
    expect(gate.ratePerSecond()).toBeLessThan(CONFIGURED_RATE);
    // Every upgrade's row carries the answer (Pending: the stepped clock never moved), none a throttling error.
    const rows = await Promise.all(upgradeIds.map(async (id) => (await store.readUpgrade(id))?.record));
    expect(rows.map((r) => r?.status)).toEqual(Array(UPGRADES).fill('Pending'));
    expect(rows.filter((r) => r?.lastErrorCategory !== undefined)).toEqual([]);
  });
});
