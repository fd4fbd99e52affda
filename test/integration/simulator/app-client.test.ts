import { randomUUID } from 'node:crypto';
import { startSimulator, steppedClock, type RunningSimulator, type SteppedClock } from '../../../dev/simulator';
import { PartnerCenterClient, SecureAppModelCredential } from '../../../shared/partner-center';
import type { SecretName, SecretStore, SecretVersion } from '../../../shared/secrets/types';

/** An in-memory secret store seeded with the simulator's credentials (records rotated refresh tokens). */
class MemoryStore implements SecretStore {
  readonly kind = 'memory';
  readonly values = new Map<SecretName, string>();
  async get(name: SecretName): Promise<string | undefined> {
    return this.values.get(name);
  }
  async read(name: SecretName): Promise<SecretVersion | undefined> {
    const value = this.values.get(name);
    return value === undefined ? undefined : { value, tags: {}, createdOn: undefined };
  }
  async set(name: SecretName, value: string): Promise<void> {
    this.values.set(name, value);
  }
}

const ELIGIBLE = '00000000-0000-4000-8000-00000000000d'; // default scenario: eligible, three subscriptions
const SUSPENDED = '00000000-0000-4000-8000-00000000001b'; // default scenario: suspended subscriptions

/**
 * The app's own Partner Center client (shared/partner-center) against the simulator over loopback HTTP: the two
 * were written separately from the same contract, so this checks they agree on the wire.
 */
describe('the app client against the simulator', () => {
  let sim: RunningSimulator;
  let clock: SteppedClock;
  let store: MemoryStore;
  let client: PartnerCenterClient;

  beforeEach(async () => {
    clock = steppedClock('2026-03-01T00:00:00Z');
    sim = await startSimulator({ port: 0, clock });
    store = new MemoryStore();
    store.values.set('PARTNER_CENTER_CLIENT_SECRET', sim.credentials.clientSecret);
    store.values.set('PARTNER_CENTER_REFRESH_TOKEN', sim.credentials.refreshToken);
    const credential = new SecureAppModelCredential({
      tenantId: sim.credentials.tenantId,
      clientId: sim.credentials.clientId,
      authorityHost: sim.url,
      secretStore: store,
    });
    client = new PartnerCenterClient({
      baseUrl: sim.url,
      credential,
      applicationName: 'simulator-interop-test',
      attemptTimeoutMs: 5000,
      maxAttempts: 3,
      retryDelay: { baseMs: 10, maxMs: 50 },
    });
  });
  afterEach(() => sim.close());

  it('eligibility, create, status until Completed; the rotated refresh token is stored', async () => {
    expect(await client.checkEligibility({ customerId: ELIGIBLE, productFamily: 'Azure' })).toMatchObject({
      isEligible: true,
    });
    const created = await client.createUpgrade({ customerId: ELIGIBLE, productFamily: 'Azure' });
    expect(sim.state.getUpgrade(created.upgradeId)).toMatchObject({
      customerId: ELIGIBLE,
      requestId: created.requestId,
    });

    let status = await client.getUpgradeStatus({
      upgradeId: created.upgradeId,
      customerId: ELIGIBLE,
      productFamily: 'Azure',
    });
    expect(status).toMatchObject({ status: 'Pending', isTerminal: false });
    clock.advance(60_000);
    status = await client.getUpgradeStatus({
      upgradeId: created.upgradeId,
      customerId: ELIGIBLE,
      productFamily: 'Azure',
    });
    expect(status).toMatchObject({ status: 'Completed', rawStatus: 'Completed', isTerminal: true });
    expect(status.lineItems).toHaveLength(3);
    expect(status.lineItems.every((item) => item.upgradedDate !== undefined)).toBe(true);

    expect(store.values.get('PARTNER_CENTER_REFRESH_TOKEN')).not.toBe(sim.credentials.refreshToken);
    expect(sim.state.counters().tokenRequests.total).toBe(1);
  });

  it('surfaces the documented errors with their codes', async () => {
    await expect(client.createUpgrade({ customerId: SUSPENDED, productFamily: 'Azure' })).rejects.toMatchObject({
      status: 403,
      code: 900105,
    });
    await expect(
      client.getUpgradeStatus({ upgradeId: randomUUID(), customerId: ELIGIBLE, productFamily: 'Azure' }),
    ).rejects.toMatchObject({ status: 404, code: 900106 });
  });

  it('retries 503s; a create whose responses are all lost makes one upgrade, and a replay returns it', async () => {
    sim.setFaults('eligibility', { status503: 0.5 });
    for (let i = 0; i < 5; i++) {
      await client.checkEligibility({ customerId: ELIGIBLE, productFamily: 'Azure' }).catch(() => undefined);
    }
    expect(sim.state.counters().requests.eligibility.byStatus['503']).toBeGreaterThan(0);
    // Every response to the create is lost: the client gives up, but its retries carried the same MS-RequestId,
    // so the service made one upgrade, not one per attempt.
    sim.setFaults('create', { connectionReset: 1 });
    await expect(client.createUpgrade({ customerId: ELIGIBLE, productFamily: 'Azure' })).rejects.toThrow();
    expect(sim.state.counters().requests.create.byStatus['0']).toBe(3);
    const made = sim.state.listUpgrades({ customerId: ELIGIBLE });
    expect(made).toHaveLength(1);
    sim.setFaults('create', null);
    const replayed = await client.createUpgrade(
      { customerId: ELIGIBLE, productFamily: 'Azure' },
      { requestId: made[0].requestId },
    );
    expect(replayed.upgradeId).toBe(made[0].id);
    expect(sim.state.listUpgrades({ customerId: ELIGIBLE })).toHaveLength(1);
  });
});
