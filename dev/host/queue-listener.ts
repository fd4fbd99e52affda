import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import type { StorageConfig } from '../../shared/config';
import { createQueueClient } from '../../shared/storage/clients';
import type { HostSettings } from './host-json';
import { hostLine, invoke, type LogSink } from './invoke';
import type { QueueRegistration } from './registry';

/** A message that cannot become a trigger value: it fails on every try, so it ends in the poison queue unrun. */
class MessageBindingError extends Error {
  override readonly name = 'MessageBindingError';
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** base64 → UTF-8 text, as the host reads it (Convert.FromBase64String, which ignores white space). */
export function decodeMessageText(text: string, encoding: 'base64' | 'none'): string {
  if (encoding === 'none') return text;
  const compact = text.replace(/\s/g, '');
  if (!BASE64.test(compact)) {
    throw new MessageBindingError('The message text is not valid base64 (host.json messageEncoding is base64)');
  }
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** The value the Node library hands the handler: JSON text becomes its value (`{"a":1}`, `42`), other text stays text. */
export function parseTriggerValue(decoded: string): unknown {
  try {
    return JSON.parse(decoded) as unknown;
  } catch {
    return decoded;
  }
}

/** The queue a binding's `connection` names: a connection string, or the identity-based `__queueServiceUri`. */
export function queueClientFor(connection: string | undefined, queueName: string, env: NodeJS.ProcessEnv): QueueClient {
  const name = connection ?? 'AzureWebJobsStorage';
  const connectionString = env[name];
  const queueServiceUri = env[`${name}__queueServiceUri`];
  let storage: StorageConfig;
  if (connectionString) storage = { kind: 'connectionString', connectionString };
  else if (queueServiceUri) {
    storage = { kind: 'identity', queueServiceUri, tableServiceUri: '', clientId: env[`${name}__clientId`] };
  } else {
    throw new Error(
      `Storage account connection string '${name}' does not exist. Make sure that it is a defined App Setting.`,
    );
  }
  return createQueueClient(storage, queueName);
}

/** The message stays hidden this long while the function runs (the host's default lease before it renews). */
const PROCESSING_VISIBILITY_SECONDS = 10 * 60;
/** First wait after an empty poll; doubles up to host.json maxPollingInterval (the host's backoff). */
const MIN_POLL_MS = 100;

/**
 * Polls one queue like the Functions queue trigger: batches of `batchSize` run concurrently; success deletes the
 * message; failure makes it visible again after `visibilityTimeout`; after `maxDequeueCount` tries it is copied to
 * `<queue>-poison` unchanged and deleted.
 */
export class QueueListener {
  /** Ends the polling and cuts a receive in progress (the SDK would otherwise retry a dead endpoint for a minute). */
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly registration: QueueRegistration,
    private readonly queue: QueueClient,
    private readonly poison: QueueClient,
    private readonly settings: HostSettings['queues'],
    private readonly log: LogSink,
  ) {}

  get queueName(): string {
    return this.queue.name;
  }

  get binding(): { type: string; queueName: string } {
    return { type: 'queueTrigger', queueName: this.queueName };
  }

  async start(): Promise<void> {
    await this.queue.createIfNotExists();
    await this.poison.createIfNotExists();
    this.loop = this.poll();
  }

  /** Stops polling and waits for the batch in flight to finish. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** Runs the handler with `text` as the (already decoded) message, outside any queue (the admin API). */
  run(text = ''): Promise<void> {
    const now = new Date();
    return this.invokeHandler(text, {
      id: randomUUID(),
      dequeueCount: 1,
      insertionTime: now.toISOString(),
      expirationTime: new Date(now.getTime() + 7 * 24 * 3600_000).toISOString(),
      nextVisibleTime: now.toISOString(),
      popReceipt: '',
      queueTrigger: text,
    });
  }

  private async poll(): Promise<void> {
    const { signal } = this.stopping;
    let delayMs = 0;
    while (!signal.aborted) {
      let messages: DequeuedMessageItem[] = [];
      try {
        const { batchSize: numberOfMessages } = this.settings;
        const response = await this.queue.receiveMessages({
          numberOfMessages,
          visibilityTimeout: PROCESSING_VISIBILITY_SECONDS,
          abortSignal: signal,
        });
        messages = response.receivedMessageItems;
      } catch (error) {
        if (signal.aborted) break;
        this.log(hostLine(`[Warning] Queue '${this.queueName}': receive failed: ${(error as Error).message}`));
      }
      if (messages.length > 0) {
        delayMs = 0;
        await Promise.all(messages.map((message) => this.process(message)));
        continue;
      }
      delayMs = Math.min(Math.max(delayMs * 2, MIN_POLL_MS), this.settings.maxPollingIntervalMs);
      await sleep(delayMs, undefined, { signal }).catch(() => undefined);
    }
  }

  private async process(message: DequeuedMessageItem): Promise<void> {
    const { settings, queue } = this;
    try {
      // Already tried maxDequeueCount times (e.g. the host died mid-run): straight to poison, like the host.
      if (message.dequeueCount > settings.maxDequeueCount) return await this.moveToPoison(message);
      let succeeded = false;
      try {
        const text = decodeMessageText(message.messageText, settings.messageEncoding);
        await this.invokeHandler(text, {
          id: message.messageId,
          dequeueCount: message.dequeueCount,
          insertionTime: message.insertedOn.toISOString(),
          expirationTime: message.expiresOn.toISOString(),
          nextVisibleTime: message.nextVisibleOn.toISOString(),
          popReceipt: message.popReceipt,
          queueTrigger: text,
        });
        succeeded = true;
      } catch (error) {
        // invoke() has logged handler errors; a binding failure has not run the handler, so log it here.
        if (error instanceof MessageBindingError) {
          this.log(hostLine(`[Error] ${this.registration.name}: message ${message.messageId}: ${error.message}`));
        }
      }
      if (succeeded) await queue.deleteMessage(message.messageId, message.popReceipt);
      else if (message.dequeueCount >= settings.maxDequeueCount) await this.moveToPoison(message);
      else {
        const { messageId, popReceipt, messageText } = message;
        await queue.updateMessage(messageId, popReceipt, messageText, Math.round(settings.visibilityTimeoutMs / 1000));
      }
    } catch (error) {
      // Storage failed while settling the message: it reappears after the processing lease, as in the host.
      const reason = (error as Error).message;
      this.log(hostLine(`[Warning] Queue '${queue.name}': could not settle message ${message.messageId}: ${reason}`));
    }
  }

  private async moveToPoison(message: DequeuedMessageItem): Promise<void> {
    this.log(
      hostLine(
        `[Warning] Message ${message.messageId} has reached MaxDequeueCount of ${this.settings.maxDequeueCount}. ` +
          `Moving message to queue '${this.poison.name}'.`,
      ),
    );
    await this.poison.sendMessage(message.messageText);
    await this.queue.deleteMessage(message.messageId, message.popReceipt);
  }

  private invokeHandler(text: string, triggerMetadata: Record<string, string | number>): Promise<void> {
    const { registration, log } = this;
    const reason = `New queue message detected on '${this.queueName}'.`;
    return invoke(
      { functionName: registration.name, reason, triggerType: 'queueTrigger', triggerMetadata, log },
      async (context) => {
        await registration.options.handler(parseTriggerValue(text), context);
      },
    );
  }
}
