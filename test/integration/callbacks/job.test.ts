import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { notificationEventId } from '../../../shared/callbacks/events';
import { processCallbackMessage, type CallbackJobDeps } from '../../../shared/callbacks/job';
import { claimCallbackSend, recordCallbackOutcome } from '../../../shared/callbacks/store';
import { readCallbackRecord } from '../../helpers/callback-records';
import { freePort } from '../../../dev/free-port';
import { EnvironmentSecretStore } from '../../../shared/secrets/environment-store';
import { SecretUnavailableError } from '../../../shared/secrets/errors';
import { newLease } from '../../../shared/storage/lease';
import type { TableKey } from '../../../shared/storage/names';
import { Tables } from '../../../shared/storage/tables';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { TrackingStore } from '../../../shared/tracking';
import { finishUpgrade, LINE_ITEMS, notifiedUpgrade, observedQueue } from './fixtures';
import { BillingReceiver } from '../../../dev/stack';
import { listRejectedMessages } from '../../helpers/tracking-tables';
import { newSigningSecret } from '../../../shared/webhooks/signing';

const connectionString = process.env.AzureWebJobsStorage!;
const SECRET = newSigningSecret();

/** Table reads per table (point reads and queries), to show what one message costs. */
class CountingTables {
  readonly reads = new Map<string, number>();
  constructor(private readonly inner: Tables) {}
  reset(): void {
    this.reads.clear();
  }
  async get(key: TableKey): Promise<TableClient> {
    const client = await this.inner.get(key);
    const count = () => this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    return new Proxy(client, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if ((property !== 'getEntity' && property !== 'listEntities') || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          count();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }
}

/**
 * The callback job on its own against Azurite (its queues are per test, so no host is needed): what it sends (the
 * upgrade row's data, never the message's), what it re-enqueues, with which delay, and what it does on the last
 * attempt, for failures the receiver cannot produce (no secret, nobody listening, a row not final yet).
 */
describe('processCallbackMessage (Azurite)', () => {
  const tables = new CountingTables(
    new Tables({ storage: { kind: 'connectionString', connectionString }, tableNamePrefix: 'cbjob' }),
  );
  const tracking = new TrackingStore(tables);
  const receiver = new BillingReceiver(SECRET);
  beforeAll(() => receiver.start());
  afterAll(() => receiver.stop());

  async function setup(options: { secret?: string; url?: string; maxAttempts?: number; final?: boolean }) {
    const suffix = randomUUID().slice(0, 8);
    const main = observedQueue(new QueueClient(connectionString, `cbjob-${suffix}`));
    const poison = observedQueue(new QueueClient(connectionString, `cbjob-${suffix}-poison`));
    await Promise.all([main.queue.createIfNotExists(), poison.queue.createIfNotExists()]);
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
      queue: main.queue,
      poisonQueue: poison.queue,
    };
    const { upgradeId, completedAt, message } = await notifiedUpgrade({ tracking, tables }, { final: options.final });
    return { deps, env, telemetry, queue: main.queue, sent: main.sent, poison, message, upgradeId, completedAt };
  }

  /** The next visible message, decoded as the host would (base64 JSON). */
  async function receive(queue: QueueClient): Promise<Record<string, unknown> | undefined> {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 1 });
    const item = receivedMessageItems[0];
    if (!item) return undefined;
    await queue.deleteMessage(item.messageId, item.popReceipt);
    return JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as Record<string, unknown>;
  }

  it('sends what the upgrade row says, reading each row once', async () => {
    const { deps, message, upgradeId, completedAt } = await setup({ secret: SECRET });
    tables.reset();
    // The message's own completion time is not what is sent: the row's is. (A status of its own makes the message
    // inconsistent with its event id: refused, next test.)
    const forged = { ...message, completedAt: '2000-01-01T00:00:00.000Z' };
    expect(await processCallbackMessage(forged, deps)).toMatchObject({ outcome: 'delivered', attempt: 1 });
    expect(Object.fromEntries(tables.reads)).toEqual({ callbacks: 1, tracking: 1 });
    const [got] = receiver.for(upgradeId);
    expect(got).toMatchObject({ verified: true, answered: 200 });
    expect(got.body).toEqual({
      eventId: message.eventId,
      event: 'upgrade.completed',
      upgradeId,
      customerId: message.customerId,
      status: 'Completed',
      lineItems: LINE_ITEMS,
      completedAt,
    });
  });

  it('a message whose event id is not the row final event is rejected and recorded, never sent', async () => {
    const { deps, message, upgradeId } = await setup({ secret: SECRET });
    const forged = [
      // not the event id of the message's own status: refused before any row is read
      [{ ...message, eventId: randomUUID() }, 'eventId is not the id'],
      [{ ...message, eventId: notificationEventId(upgradeId, 'Failed') }, 'eventId is not the id'],
      // consistent in itself, but not what the row says
      [
        { ...message, status: 'Failed', event: 'upgrade.failed', eventId: notificationEventId(upgradeId, 'Failed') },
        'not the final event',
      ],
    ] as const;
    for (const [input, reason] of forged) {
      const outcome = await processCallbackMessage(input, deps);
      expect(outcome).toMatchObject({ outcome: 'invalid', reason: expect.stringContaining(reason) });
      const rows = await listRejectedMessages(tables, 'upgrade-notifications');
      expect(rows.some((r) => r.message.includes(input.eventId) && r.kind === 'invalid')).toBe(true);
    }
    expect(receiver.for(upgradeId)).toHaveLength(0);
  });

  it('a row not final yet: nothing sent, checked again after the retry delay; sent once the row is final', async () => {
    const { deps, sent, message, upgradeId } = await setup({ secret: SECRET, final: false });
    expect(await processCallbackMessage(message, deps)).toMatchObject({
      outcome: 'not-final',
      attempt: 1,
      delaySeconds: 1,
      upgradeStatus: 'Pending',
    });
    expect(receiver.for(upgradeId)).toHaveLength(0);
    expect(await readCallbackRecord(tables, upgradeId, message.eventId)).toBeUndefined();
    expect(sent).toEqual([{ payload: { ...message, attempt: 2 }, visibilityTimeout: 1 }]);

    await finishUpgrade({ tracking, tables }, upgradeId, 'Completed');
    expect(await processCallbackMessage(sent[0].payload, deps)).toMatchObject({ outcome: 'delivered', attempt: 2 });
    expect(receiver.for(upgradeId)).toEqual([expect.objectContaining({ verified: true, answered: 200 })]);
  });

  it('a row that never becomes final: the re-checks are bounded, then the message goes to the poison queue', async () => {
    const { deps, telemetry, sent, poison, message, upgradeId } = await setup({
      secret: SECRET,
      final: false,
      maxAttempts: 2,
    });
    expect(await processCallbackMessage(message, deps)).toMatchObject({ outcome: 'not-final', attempt: 1 });
    expect(await processCallbackMessage(sent[0].payload, deps)).toMatchObject({
      outcome: 'poisoned',
      attempt: 2,
      error: expect.stringContaining('not final yet') as unknown,
    });
    expect(sent).toHaveLength(1);
    expect(poison.sent.map((s) => s.payload)).toEqual([{ ...message, attempt: 2 }]);
    expect(telemetry.events.map((e) => e.name)).toEqual(['CallbackFailed']);
    // No outcome is recorded for an event that never happened: should the upgrade finish later, it is still sent.
    expect(await readCallbackRecord(tables, upgradeId, message.eventId)).toBeUndefined();
    expect(receiver.for(upgradeId)).toHaveLength(0);
  });

  it('no signing secret: nothing is sent unsigned; a delayed retry is enqueued and delivers once the secret is set', async () => {
    const { deps, env, queue, sent, message, upgradeId } = await setup({});
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
    expect(sent).toEqual([{ payload: { ...message, attempt: 2 }, visibilityTimeout: 1 }]);

    env.CALLBACK_SIGNING_SECRET = SECRET;
    expect(await processCallbackMessage(sent[0].payload, deps)).toMatchObject({ outcome: 'delivered', attempt: 2 });
    expect(receiver.for(upgradeId)).toEqual([expect.objectContaining({ verified: true, answered: 200 })]);
  });

  it('a signing secret that is not a whsec_ secret (a pass phrase stored in Key Vault): nothing is sent with it', async () => {
    const phrase = 'correct horse battery staple';
    const { deps, message, upgradeId } = await setup({ secret: phrase });
    const outcome = await processCallbackMessage(message, deps);
    expect(outcome).toMatchObject({
      outcome: 'retry-scheduled',
      error: expect.stringMatching(/^CALLBACK_SIGNING_SECRET must be whsec_ .*never sent with it$/) as unknown,
    });
    expect(JSON.stringify(outcome)).not.toContain('horse');
    expect(receiver.for(upgradeId)).toHaveLength(0);
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
    const { deps, telemetry, sent, poison, message, upgradeId } = await setup({
      secret: SECRET,
      url: `http://127.0.0.1:${closedPort}/callbacks`,
      maxAttempts: 2,
    });
    const first = await processCallbackMessage(message, deps);
    expect(first).toMatchObject({ outcome: 'retry-scheduled', attempt: 1 });
    expect(first.outcome === 'retry-scheduled' && first.error).toMatch(/network error/);
    expect(sent.map((s) => s.payload)).toEqual([{ ...message, attempt: 2 }]);

    expect(await processCallbackMessage(sent[0].payload, deps)).toMatchObject({ outcome: 'poisoned', attempt: 2 });
    expect(await readCallbackRecord(tables, upgradeId, message.eventId)).toMatchObject({
      outcome: 'poisoned',
      attempt: 2,
    });
    expect(await receive(poison.queue)).toEqual({ ...message, attempt: 2 });
    expect(sent).toHaveLength(1); // nothing more re-enqueued after the last attempt
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
    const now = Date.now();
    const claim = (owner: string, at: number) => ({ ...ids, lease: newLease(owner, at, 60_000), now: at });
    expect(await claimCallbackSend(tables, claim('first', now))).toMatchObject({ kind: 'claimed' });
    expect(await claimCallbackSend(tables, claim('second', now))).toMatchObject({ kind: 'busy' });
    expect(await claimCallbackSend(tables, claim('third', now + 61_000))).toMatchObject({ kind: 'claimed' });
    expect(await readCallbackRecord(tables, ids.upgradeId, ids.eventId)).toMatchObject({
      outcome: 'sending',
      lease: { owner: 'third', until: now + 121_000 },
    });
    await recordCallbackOutcome(tables, { ...ids, outcome: 'delivered', status: 204 });
    expect(await claimCallbackSend(tables, claim('fourth', now + 600_000))).toMatchObject({
      kind: 'final',
      record: { outcome: 'delivered' },
    });
  });

  it('a notification for an upgrade that is not tracked (or of another customer) is rejected and recorded', async () => {
    const { deps, message } = await setup({ secret: SECRET });
    const unknown = { ...message, upgradeId: randomUUID() };
    expect(await processCallbackMessage(unknown, deps)).toMatchObject({ outcome: 'invalid' });
    expect(await processCallbackMessage({ ...message, customerId: randomUUID() }, deps)).toMatchObject({
      outcome: 'invalid',
      reason: expect.stringContaining('another customer'),
    });
    const rows = await listRejectedMessages(tables, 'upgrade-notifications');
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
