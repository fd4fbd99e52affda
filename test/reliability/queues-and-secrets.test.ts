import { randomUUID } from 'node:crypto';
import { recordNotificationPoison } from '../../functions/recordPoisonMessage';
import { poisonQueueName } from '../../shared/queues/poison';
import { CachedSecretStore, KeyVaultSecretStore, keyVaultSecretName, type SecretName } from '../../shared/secrets';
import { encodeQueueMessage } from '../../shared/queues/producer';
import { QUEUES } from '../../shared/storage/names';
import { FakeKeyVaultServer, FakeTokenCredential, fakeVaultClientOptions } from '../fakes/key-vault-server';
import { invocationContext } from '../helpers/functions';
import { overrideMethods, wrapTables } from './faults';
import { seedFor } from './prng';
import { customerIds, Rig } from './rig';
import { listRejectedMessages } from '../helpers/tracking-tables';

/**
 * The rest of the fault matrix: duplicated and reordered queue messages, poison messages (permanent ones recorded
 * and completed at once, transient ones retried then recorded from the poison queue, undeliverable callbacks), and a
 * Key Vault outage with a warm cache (work goes on) and at a cold start (webhooks answer 503 fast, nothing is
 * created; after the vault is back everything finishes). Each case ends with our tables equal to the simulator's
 * ground truth.
 */
jest.setTimeout(120_000);

async function startAll(rig: Rig): Promise<number[]> {
  const statuses: number[] = [];
  for (const customerId of customerIds(rig)) statuses.push(...(await rig.startUpgradeWithRetries(customerId)).seen);
  return statuses;
}

describe('queue messages: duplicated, reordered, poison', () => {
  it('duplicated and reordered tracking and notification messages: one upgrade each, callbacks exactly once', async () => {
    const seed = seedFor('queues: duplicates and reordering');
    const rig = await Rig.start({ label: 'dup', customers: 10, seed });
    try {
      await startAll(rig);
      // the billing system (or a retried enqueue) sends every tracking message twice more
      for (const truth of rig.sim.state.listUpgrades()) {
        const message = { upgradeId: truth.id, customerId: truth.customerId, productFamily: 'Azure' };
        for (let i = 0; i < 2; i++) await rig.queues.tracking.sendMessage(encodeQueueMessage(message));
      }
      const tracking = await rig.pumpTracking({ duplicate: 0.5, reorder: true });
      expect(tracking.failed).toBe(0);
      expect(tracking.duplicates).toBeGreaterThan(0);
      for (let round = 0; round < 8; round++) {
        await rig.poll();
        await rig.pumpNotifications({ duplicate: 0.5, reorder: true });
        rig.clock.advance(31 * 60_000);
      }
      expect({ seed, problems: await rig.truthDiff() }).toEqual({ seed, problems: [] });
      const views = await rig.observe();
      expect({ seed, callbacks: rig.callbackDiff(views) }).toEqual({ seed, callbacks: [] });
      for (const truth of rig.sim.state.listUpgrades()) {
        const listed = await rig.services.tracking.listCustomerUpgrades(truth.customerId.toLowerCase());
        expect(listed.items.map((i) => i.upgradeId)).toEqual([truth.id.toLowerCase()]);
      }
    } finally {
      await rig.stop();
    }
  });

  it('poison: invalid messages are recorded and completed at once; transient failures reach the poison queue and are recorded', async () => {
    seedFor('queues: poison');
    const failingUpgrade = randomUUID();
    const rig = await Rig.start({
      label: 'poison',
      customers: 2,
      seed: 1,
      // Table Storage refuses every read and write about one upgrade: its message can never be handled (transient,
      // 503); the read comes first, so the message fails before startTracking would ask Partner Center about it
      wrapTables: (tables) =>
        wrapTables(tables, (key, client) => {
          const busy = () => Promise.reject(Object.assign(new Error('Server busy'), { statusCode: 503 }));
          const about = (entity: unknown) => (entity as Record<string, unknown>).upgradeId === failingUpgrade;
          return key !== 'tracking'
            ? client
            : overrideMethods(client, {
                getEntity: (original, args) => (String(args[1]).includes(failingUpgrade) ? busy() : original(...args)),
                createEntity: (original, args) => (about(args[0]) ? busy() : original(...args)),
                submitTransaction: (original, args) =>
                  (args[0] as [string, unknown][]).some(([, entity]) => about(entity)) ? busy() : original(...args),
              });
        }),
    });
    try {
      await startAll(rig);
      const invalid = [
        'not json at all',
        JSON.stringify({ upgradeId: 5, customerId: [], productFamily: 'Azure' }),
        '{"__proto__":{"polluted":true},"upgradeId":"x"}',
        JSON.stringify({ upgradeId: randomUUID(), productFamily: 'Azure' }),
      ];
      for (const text of invalid) await rig.queues.tracking.sendMessage(Buffer.from(text).toString('base64'));
      const transient = { upgradeId: failingUpgrade, customerId: randomUUID(), productFamily: 'Azure' };
      await rig.queues.tracking.sendMessage(encodeQueueMessage(transient));

      const stats = await rig.pumpTracking();
      // the invalid ones completed on their first delivery; the transient one was tried 5 times, then poisoned
      expect(stats).toMatchObject({ failed: 5, poisoned: 1 });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      const rejected = await listRejectedMessages(rig.services.tables, QUEUES.upgradeTracking);
      expect(rejected.filter((r) => r.kind === 'invalid')).toHaveLength(invalid.length);
      const poisoned = await listRejectedMessages(rig.services.tables, poisonQueueName(QUEUES.upgradeTracking));
      expect(poisoned.map((p) => p.message).join()).toContain(failingUpgrade);
      expect(rig.telemetry.events.some((e) => e.name === 'PoisonMessage')).toBe(true);
      // the valid upgrades went on unharmed
      await rig.runToEnd(8);
      expect(await rig.truthDiff()).toEqual([]);
    } finally {
      await rig.stop();
    }
  });

  it('poison: a callback the receiver never accepts is recorded after the last attempt, the upgrade stays final', async () => {
    seedFor('queues: undeliverable callbacks');
    const rig = await Rig.start({
      label: 'cbpoison',
      customers: 3,
      seed: 2,
      receiverFailure: 1,
      settings: { CALLBACK_MAX_ATTEMPTS: '3' },
    });
    try {
      await startAll(rig);
      await rig.pumpTracking();
      await rig.runToEnd(8);
      expect(await rig.truthDiff()).toEqual([]);
      expect(rig.callbackResults.filter((r) => r.outcome === 'poisoned')).toHaveLength(3);
      expect(rig.receiver.received).toHaveLength(9); // 3 attempts each, none accepted
      const handled = await rig.pump(rig.queues.notifyPoison, rig.queues.notifyPoison, (message) =>
        recordNotificationPoison(message, invocationContext({ functionName: 'recordNotificationPoison' })),
      );
      expect(handled.handled).toBe(3);
      const recorded = await listRejectedMessages(rig.services.tables, poisonQueueName(QUEUES.upgradeNotifications));
      expect(recorded).toHaveLength(3);
    } finally {
      await rig.stop();
    }
  });
});

describe('Key Vault outage', () => {
  const SECRETS: SecretName[] = [
    'PARTNER_CENTER_CLIENT_SECRET',
    'PARTNER_CENTER_REFRESH_TOKEN',
    'WEBHOOK_SIGNING_SECRET',
    'CALLBACK_SIGNING_SECRET',
  ];
  let vault: FakeKeyVaultServer;
  let cacheNow = Date.now();
  beforeEach(async () => {
    vault = await new FakeKeyVaultServer().start();
  });
  afterEach(async () => vault.close());

  function keyVaultSecrets(env: Record<string, string>): CachedSecretStore {
    for (const name of SECRETS) vault.seed(keyVaultSecretName(name), env[name]);
    const store = new KeyVaultSecretStore(vault.url, {
      credential: new FakeTokenCredential(),
      clientOptions: fakeVaultClientOptions(1),
      timeoutMs: 1_000,
    });
    return new CachedSecretStore(store, {
      ttlMs: 60_000,
      clock: () => cacheNow,
      staleRetryMs: 1_000,
    });
  }

  it('warm cache: the vault goes down mid-run and every upgrade still finishes', async () => {
    seedFor('Key Vault outage, warm');
    const rig = await Rig.start({ label: 'kvwarm', customers: 6, seed: 4, secrets: keyVaultSecrets });
    try {
      const customers = customerIds(rig);
      // a first batch runs its whole life: every secret (callback signing included) has been read once
      for (const customerId of customers.slice(0, 3)) await rig.startUpgradeWithRetries(customerId);
      await rig.pumpTracking();
      await rig.runToEnd(8);
      expect(rig.receiver.delivered().size).toBe(3);
      await vault.outage('refuse');
      cacheNow += 10 * 60_000; // every cached secret is past its TTL: each read tries the vault, fails, serves stale
      const readsBefore = vault.requests.length;
      const statuses: number[] = [];
      for (const customerId of customers.slice(3))
        statuses.push(...(await rig.startUpgradeWithRetries(customerId)).seen);
      expect(statuses).toEqual([202, 202, 202]);
      await rig.pumpTracking();
      await rig.runToEnd(8);
      expect(vault.requests.length).toBe(readsBefore); // refused connections: the vault served nothing
      expect(await rig.truthDiff()).toEqual([]);
      expect(rig.callbackDiff(await rig.observe())).toEqual([]);
    } finally {
      await rig.stop();
    }
  });

  it('cold start: webhooks answer 503 quickly and create nothing; once the vault is back all finish', async () => {
    seedFor('Key Vault outage, cold');
    await vault.outage('refuse');
    const rig = await Rig.start({ label: 'kvcold', customers: 3, seed: 6, secrets: keyVaultSecrets });
    try {
      const customerId = customerIds(rig)[0];
      const started = performance.now();
      const refused = await rig.webhook('upgrades', { customerId, productFamily: 'Azure' }, { webhookId: 'k1' });
      const tookMs = performance.now() - started;
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(tookMs).toBeLessThan(10_000);
      await expect(rig.poll()).resolves.toMatchObject({ polled: 0 });
      expect(rig.sim.state.counters().upgradesCreated).toBe(0);

      await vault.restore();
      cacheNow += 2_000;
      const statuses = await startAll(rig);
      expect(statuses.filter((s) => s !== 202 && s !== 503)).toEqual([]);
      await rig.pumpTracking();
      await rig.runToEnd(8);
      expect(await rig.truthDiff()).toEqual([]);
      expect(rig.sim.state.listUpgrades()).toHaveLength(3);
    } finally {
      await rig.stop();
    }
  });
});
