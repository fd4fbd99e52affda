import { randomUUID } from 'node:crypto';
import { QueueClient } from '@azure/storage-queue';
import { processCallbackMessage, type CallbackJobDeps } from '../../../shared/notifications';
import { EnvironmentSecretStore } from '../../../shared/secrets/environment-store';
import { SecretUnavailableError } from '../../../shared/secrets/errors';
import { Tables } from '../../../shared/storage/tables';
import { RecordingTelemetry } from '../../../shared/telemetry';
import { TrackingStore, trackUpgrade } from '../../../shared/tracking';
import { freePort } from '../../../shared/net/free-port';
import { claimCallbackSend, readCallbackRecord, recordCallbackOutcome } from '../../../shared/webhooks';
import { BillingReceiver } from './harness';

const connectionString = process.env.AzureWebJobsStorage!;
const SECRET = 'job-test-signing-secret';

/**
 * The callback job on its own against Azurite (its queues are per test, so no host is needed): what it re-enqueues,
 * with which delay, and what it does on the last attempt, for failures the receiver cannot produce (no secret,
 * nobody listening).
 */
describe('processCallbackMessage (Azurite)', () => {
  const tables = new Tables({ storage: { kind: 'connectionString', connectionString }, tableNamePrefix: 'cbjob' });
  const tracking = new TrackingStore(tables);
  const receiver = new BillingReceiver(SECRET);
  beforeAll(() => receiver.start());
  afterAll(() => receiver.stop());

  async function setup(options: { secret?: string; url?: string; maxAttempts?: number }) {
    const suffix = randomUUID().slice(0, 8);
    const queue = new QueueClient(connectionString, `cbjob-${suffix}`);
    const poisonQueue = new QueueClient(connectionString, `cbjob-${suffix}-poison`);
    await Promise.all([queue.createIfNotExists(), poisonQueue.createIfNotExists()]);
    const env: NodeJS.ProcessEnv = options.secret ? { CALLBACK_SIGNING_SECRET: options.secret } : {};
    const telemetry = new RecordingTelemetry();
    const deps: CallbackJobDeps = {
      tables,
      tracking,
      secrets: new EnvironmentSecretStore(env),
      telemetry,
      config: {
        billingCallbackUrl: options.url ?? receiver.url,
        callbacks: { timeoutMs: 2000, maxAttempts: options.maxAttempts ?? 3, retryBaseMs: 1000 },
      },
      queue,
      poisonQueue,
    };
    const upgradeId = randomUUID();
    const customerId = randomUUID();
    await trackUpgrade({ upgradeId, customerId, productFamily: 'Azure' }, { store: tracking, firstPollDelayMs: 0 });
    const message = {
      eventId: randomUUID(),
      event: 'upgrade.completed',
      upgradeId,
      customerId,
      status: 'Completed',
      completedAt: new Date().toISOString(),
    };
    return { deps, env, telemetry, queue, poisonQueue, message, upgradeId };
  }

  /** The next visible message, decoded as the host would (base64 JSON). */
  async function receive(queue: QueueClient): Promise<Record<string, unknown> | undefined> {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 1 });
    const item = receivedMessageItems[0];
    if (!item) return undefined;
    await queue.deleteMessage(item.messageId, item.popReceipt);
    return JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as Record<string, unknown>;
  }

  it('no signing secret: nothing is sent unsigned; a delayed retry is enqueued and delivers once the secret is set', async () => {
    const { deps, env, queue, message, upgradeId } = await setup({});
    const first = await processCallbackMessage(message, deps);
    expect(first).toMatchObject({ outcome: 'retry-scheduled', attempt: 1, delaySeconds: 1 });
    expect(receiver.for(upgradeId)).toHaveLength(0);
    expect(await readCallbackRecord(tables, upgradeId, message.eventId)).toMatchObject({
      outcome: 'retry',
      attempt: 1,
    });
    // The retry is in the queue but invisible for the delay.
    expect((await queue.getProperties()).approximateMessagesCount).toBe(1);
    expect(await receive(queue)).toBeUndefined();

    env.CALLBACK_SIGNING_SECRET = SECRET;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const retry = await receive(queue);
    expect(retry).toEqual({ ...message, attempt: 2 });
    expect(await processCallbackMessage(retry, deps)).toMatchObject({ outcome: 'delivered', attempt: 2 });
    expect(receiver.for(upgradeId)).toEqual([expect.objectContaining({ verified: true, answered: 200 })]);
  });

  it('Key Vault unreachable at a cold cache: the delayed-retry path, not a throw that burns the host retries', async () => {
    const { deps, message, upgradeId } = await setup({ secret: SECRET });
    const vaultDown = {
      kind: 'key-vault',
      get: () =>
        Promise.reject(new SecretUnavailableError('https://vault.test', 'callback-signing-secret', 'ECONNREFUSED')),
      read: () => Promise.reject(new Error('not used')),
      set: () => Promise.reject(new Error('not used')),
    };
    const outcome = await processCallbackMessage(message, { ...deps, secrets: vaultDown });
    expect(outcome).toMatchObject({ outcome: 'retry-scheduled', attempt: 1, delaySeconds: 1 });
    expect(receiver.for(upgradeId)).toHaveLength(0);
    expect(await readCallbackRecord(tables, upgradeId, message.eventId)).toMatchObject({
      outcome: 'retry',
      error: expect.stringContaining('could not be read from Key Vault'),
    });
  });

  it('nobody listening: retried, and after the last attempt recorded as poisoned and moved to the poison queue', async () => {
    const closedPort = await freePort();
    const { deps, telemetry, queue, poisonQueue, message, upgradeId } = await setup({
      secret: SECRET,
      url: `http://127.0.0.1:${closedPort}/callbacks`,
      maxAttempts: 2,
    });
    const first = await processCallbackMessage(message, deps);
    expect(first).toMatchObject({ outcome: 'retry-scheduled', attempt: 1 });
    expect(first.outcome === 'retry-scheduled' && first.error).toMatch(/network error/);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const retry = await receive(queue);
    expect(retry).toMatchObject({ attempt: 2 });

    expect(await processCallbackMessage(retry, deps)).toMatchObject({ outcome: 'poisoned', attempt: 2 });
    expect(await readCallbackRecord(tables, upgradeId, message.eventId)).toMatchObject({
      outcome: 'poisoned',
      attempt: 2,
    });
    expect(await receive(poisonQueue)).toEqual({ ...message, attempt: 2 });
    expect(await receive(queue)).toBeUndefined();
    expect(telemetry.events.map((e) => e.name)).toEqual(['CallbackFailed']);
    expect(JSON.stringify(telemetry.events)).not.toContain(SECRET);
  });

  it('a final event is not sent again, whatever its outcome was', async () => {
    const { deps, message, upgradeId } = await setup({ secret: SECRET });
    receiver.script(message.customerId, [400]);
    expect(await processCallbackMessage(message, deps)).toMatchObject({ outcome: 'rejected' });
    expect(await processCallbackMessage({ ...message, attempt: 2 }, deps)).toMatchObject({
      outcome: 'already-final',
      recorded: 'rejected',
    });
    expect(receiver.for(upgradeId)).toHaveLength(1);
  });

  it('copies of one notification handled at once: exactly one POST; the others come back later and find it final', async () => {
    const { deps, queue, message, upgradeId } = await setup({ secret: SECRET });
    const results = await Promise.all([1, 2, 3, 4].map(() => processCallbackMessage(message, deps)));
    expect(receiver.for(upgradeId)).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'delivered')).toHaveLength(1);
    const busy = results.filter((r) => r.outcome === 'busy');
    expect(results.every((r) => ['delivered', 'busy', 'already-final'].includes(r.outcome))).toBe(true);
    // Each busy copy was re-enqueued (invisible until the claim would have run out); when it comes back: final.
    expect((await queue.getProperties()).approximateMessagesCount).toBe(busy.length);
    expect(await processCallbackMessage(message, deps)).toMatchObject({
      outcome: 'already-final',
      recorded: 'delivered',
    });
    expect(receiver.for(upgradeId)).toHaveLength(1);
  });

  it('a send claim whose holder died runs out and is taken over; a live one is busy', async () => {
    const ids = { upgradeId: randomUUID(), eventId: randomUUID(), event: 'upgrade.completed', attempt: 1 };
    expect(await claimCallbackSend(tables, { ...ids, leaseMs: 60_000 })).toEqual({ kind: 'claimed' });
    expect(await claimCallbackSend(tables, { ...ids, leaseMs: 60_000 })).toMatchObject({ kind: 'busy' });
    const later = () => Date.now() + 61_000;
    expect(await claimCallbackSend(tables, { ...ids, leaseMs: 60_000, now: later })).toEqual({ kind: 'claimed' });
    await recordCallbackOutcome(tables, { ...ids, outcome: 'delivered', status: 204 });
    expect(await claimCallbackSend(tables, { ...ids, leaseMs: 60_000, now: () => Date.now() + 600_000 })).toMatchObject(
      {
        kind: 'final',
        record: { outcome: 'delivered' },
      },
    );
  });

  it('a notification for an upgrade that is not tracked (or of another customer) is rejected and recorded', async () => {
    const { deps, message } = await setup({ secret: SECRET });
    const unknown = { ...message, upgradeId: randomUUID() };
    expect(await processCallbackMessage(unknown, deps)).toMatchObject({ outcome: 'invalid' });
    expect(await processCallbackMessage({ ...message, customerId: randomUUID() }, deps)).toMatchObject({
      outcome: 'invalid',
      reason: expect.stringContaining('another customer'),
    });
    const rows = await tracking.listRejectedMessages('upgrade-notifications');
    expect(rows.some((r) => r.message.includes(unknown.upgradeId) && r.kind === 'invalid')).toBe(true);
  });

  it('without BILLING_CALLBACK_URL nothing is sent and nothing is retried', async () => {
    const { deps, queue, message, upgradeId } = await setup({ secret: SECRET });
    const result = await processCallbackMessage(message, {
      ...deps,
      config: { ...deps.config, billingCallbackUrl: undefined },
    });
    expect(result).toMatchObject({ outcome: 'skipped' });
    expect(receiver.for(upgradeId)).toHaveLength(0);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
  });
});
