import { randomBytes } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import { FunctionRegistry } from '../../../dev/host';
import { sendQueueMessage } from '../../../shared/queues/producer';
import { eventually, startTestLocalHost, type TestLocalHost } from '../../helpers/local-host';

const connection = (): string => process.env.AzureWebJobsStorage ?? '';
const uniqueQueue = (label: string): string => `host-${label}-${randomBytes(4).toString('hex')}`;

interface Call {
  message: unknown;
  metadata: Record<string, unknown>;
  at: number;
}

describe('local host: storage queue trigger against Azurite', () => {
  const okQueue = uniqueQueue('ok');
  const failQueue = uniqueQueue('fail');
  const rawQueue = uniqueQueue('raw');
  const calls: Record<string, Call[]> = { ok: [], fail: [], raw: [] };
  const recorder = (key: string) => (message: unknown, context: InvocationContext) => {
    calls[key].push({ message, metadata: { ...context.triggerMetadata }, at: Date.now() });
    context.log(`got message ${String(context.triggerMetadata?.id)}`);
  };
  let host: TestLocalHost;
  let badMessageId: string;

  beforeAll(async () => {
    const functions = new FunctionRegistry();
    functions.storageQueue('track', { queueName: okQueue, connection: 'AzureWebJobsStorage', handler: recorder('ok') });
    functions.storageQueue('alwaysFails', {
      queueName: '%FAIL_QUEUE%',
      connection: 'AzureWebJobsStorage',
      handler: (message, context) => {
        recorder('fail')(message, context);
        throw new Error('handler failure');
      },
    });
    functions.storageQueue('raw', { queueName: rawQueue, connection: 'AzureWebJobsStorage', handler: recorder('raw') });
    host = await startTestLocalHost({
      functions,
      settings: { FAIL_QUEUE: failQueue },
      hostJson: {
        extensions: {
          queues: { visibilityTimeout: '00:00:01', maxPollingInterval: '00:00:00.200', maxDequeueCount: 5 },
        },
      },
    });
    // Sent now so that its five failed bindings overlap the other tests' waiting.
    const raw = new QueueClient(connection(), rawQueue);
    badMessageId = (await raw.sendMessage('not base64 at all!')).messageId;
  });
  afterAll(async () => host.stop());

  it('delivers a producer message once, parsed, with dequeueCount 1 and trigger metadata, then deletes it', async () => {
    const queue = new QueueClient(connection(), okQueue);
    const payload = { upgradeId: 'u-1', customerId: 'c-1', lineItems: [1, 2] };
    const messageId = await sendQueueMessage(queue, payload);
    const call = await eventually(() => calls.ok.find((c) => c.metadata.id === messageId));
    expect(call.message).toEqual(payload);
    expect(call.metadata).toMatchObject({
      id: messageId,
      dequeueCount: 1,
      insertionTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      expirationTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      nextVisibleTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      popReceipt: expect.any(String),
      queueTrigger: JSON.stringify(payload),
    });
    await eventually(async () => ((await queue.getProperties()).approximateMessagesCount === 0 ? true : undefined));
    expect(calls.ok.filter((c) => c.metadata.id === messageId)).toHaveLength(1);
    expect(host.logs.some((l) => l.includes(`[Information] track (`) && l.includes(`got message ${messageId}`))).toBe(
      true,
    );
  });

  it('moves a message whose handler always throws to <queue>-poison after exactly maxDequeueCount tries', async () => {
    const queue = new QueueClient(connection(), failQueue);
    const poison = new QueueClient(connection(), `${failQueue}-poison`);
    const messageId = await sendQueueMessage(queue, { upgradeId: 'u-poison' });
    const poisoned = await eventually(async () => {
      const peeked = await poison.peekMessages();
      return peeked.peekedMessageItems[0];
    }, 20_000);
    const tries = calls.fail.filter((c) => c.metadata.id === messageId);
    expect(tries.map((c) => c.metadata.dequeueCount)).toEqual([1, 2, 3, 4, 5]);
    // Retries are spaced by host.json visibilityTimeout (1 s here).
    for (let i = 1; i < tries.length; i++) expect(tries[i].at - tries[i - 1].at).toBeGreaterThanOrEqual(900);
    expect(Buffer.from(poisoned.messageText, 'base64').toString('utf8')).toBe('{"upgradeId":"u-poison"}');
    // No sixth try: the message is gone from the queue, not merely hidden (the count includes invisible messages).
    await host.logged(new RegExp(`Message ${messageId} has reached MaxDequeueCount of 5`));
    await eventually(async () => ((await queue.getProperties()).approximateMessagesCount === 0 ? true : undefined));
    expect(calls.fail.filter((c) => c.metadata.id === messageId)).toHaveLength(5);
  });

  it('parses like the host: JSON numbers and strings, plain text stays text; non-base64 text is poisoned unrun', async () => {
    const queue = new QueueClient(connection(), rawQueue);
    const send = async (text: string) => (await queue.sendMessage(Buffer.from(text).toString('base64'))).messageId;
    const number = await send('42');
    const text = await send('hello world');
    const byId = (id: string) => () => calls.raw.find((c) => c.metadata.id === id);
    expect((await eventually(byId(number))).message).toBe(42);
    expect((await eventually(byId(text))).message).toBe('hello world');
    const poison = new QueueClient(connection(), `${rawQueue}-poison`);
    const poisoned = await eventually(async () => (await poison.peekMessages()).peekedMessageItems[0], 20_000);
    expect(poisoned.messageText).toBe('not base64 at all!');
    expect(calls.raw.some((c) => c.metadata.id === badMessageId)).toBe(false);
  });

  it('runs a queue function through POST /admin/functions/{name} with the input as message text', async () => {
    const before = calls.ok.length;
    const response = await fetch(`${host.url}/admin/functions/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: '{"upgradeId":"u-admin"}' }),
    });
    expect(response.status).toBe(202);
    const call = await eventually(() => calls.ok.slice(before).find(() => true));
    expect(call.message).toEqual({ upgradeId: 'u-admin' });
    expect(call.metadata.dequeueCount).toBe(1);
  });
});
