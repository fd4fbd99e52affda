import { randomUUID } from 'node:crypto';
import type { QueueClient, DequeuedMessageItem } from '@azure/storage-queue';
import { invoke, hostLine, type LogSink } from './invoke';
import type { HostSettings } from './host-json';
import { decodeMessageText, parseTriggerValue } from './queue-message';
import type { QueueRegistration } from './registry';

/** The message stays hidden this long while the function runs (the host's default lease before it renews). */
const PROCESSING_VISIBILITY_SECONDS = 10 * 60;
/** First wait after an empty poll; doubles up to host.json maxPollingInterval (the host's randomized backoff). */
const MIN_POLL_MS = 100;

export interface QueueListenerOptions {
  registration: QueueRegistration;
  queue: QueueClient;
  poison: QueueClient;
  settings: HostSettings['queues'];
  log: LogSink;
}

/**
 * Polls one queue like the Functions queue trigger: batches of `batchSize` run concurrently; success deletes the
 * message; failure makes it visible again after `visibilityTimeout`; after `maxDequeueCount` tries it is copied to
 * `<queue>-poison` unchanged and deleted.
 */
export class QueueListener {
  private stopping = false;
  /** Cuts a receive in progress on stop (the SDK would otherwise keep retrying a dead endpoint for a minute). */
  private readonly receiving = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private delayMs = 0;

  constructor(private readonly options: QueueListenerOptions) {}

  get queueName(): string {
    return this.options.queue.name;
  }

  async start(): Promise<void> {
    await this.options.queue.createIfNotExists();
    await this.options.poison.createIfNotExists();
    this.loop = this.run();
  }

  /** Stops polling and waits for the batch in flight to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.receiving.abort();
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
  }

  /** Runs the handler with `text` as the (already decoded) message, outside any queue (admin endpoint). */
  async runWithText(text: string): Promise<void> {
    const now = new Date();
    await this.invokeHandler(text, {
      id: randomUUID(),
      dequeueCount: 1,
      insertionTime: now.toISOString(),
      expirationTime: new Date(now.getTime() + 7 * 24 * 3600_000).toISOString(),
      nextVisibleTime: now.toISOString(),
      popReceipt: '',
      queueTrigger: text,
    });
  }

  private async run(): Promise<void> {
    const { queue, settings, log } = this.options;
    while (!this.stopping) {
      let messages: DequeuedMessageItem[] = [];
      try {
        const response = await queue.receiveMessages({
          numberOfMessages: settings.batchSize,
          visibilityTimeout: PROCESSING_VISIBILITY_SECONDS,
          abortSignal: this.receiving.signal,
        });
        messages = response.receivedMessageItems;
      } catch (error) {
        if (this.stopping) break;
        log(hostLine(`[Warning] Queue '${queue.name}': receive failed: ${(error as Error).message}`));
      }
      if (messages.length > 0) {
        this.delayMs = 0;
        await Promise.all(messages.map((message) => this.process(message)));
        continue;
      }
      this.delayMs = Math.min(Math.max(this.delayMs * 2, MIN_POLL_MS), settings.maxPollingIntervalMs);
      await this.sleep(this.delayMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  private async process(message: DequeuedMessageItem): Promise<void> {
    const { settings, log, queue } = this.options;
    try {
      // Already tried maxDequeueCount times (e.g. the host died mid-run): straight to poison, like the host.
      if (message.dequeueCount > settings.maxDequeueCount) {
        await this.moveToPoison(message);
        return;
      }
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
        if ((error as Error).name === 'MessageBindingError') {
          log(
            hostLine(
              `[Error] ${this.options.registration.name}: message ${message.messageId}: ${(error as Error).message}`,
            ),
          );
        }
      }
      if (succeeded) {
        await queue.deleteMessage(message.messageId, message.popReceipt);
      } else if (message.dequeueCount >= settings.maxDequeueCount) {
        await this.moveToPoison(message);
      } else {
        await queue.updateMessage(
          message.messageId,
          message.popReceipt,
          message.messageText,
          Math.round(settings.visibilityTimeoutMs / 1000),
        );
      }
    } catch (error) {
      // Storage failed while settling the message: it reappears after the processing lease, as in the host.
      log(
        hostLine(
          `[Warning] Queue '${queue.name}': could not settle message ${message.messageId}: ${(error as Error).message}`,
        ),
      );
    }
  }

  private async moveToPoison(message: DequeuedMessageItem): Promise<void> {
    const { poison, queue, log } = this.options;
    log(
      hostLine(
        `[Warning] Message ${message.messageId} has reached MaxDequeueCount of ${this.options.settings.maxDequeueCount}. ` +
          `Moving message to queue '${poison.name}'.`,
      ),
    );
    await poison.sendMessage(message.messageText);
    await queue.deleteMessage(message.messageId, message.popReceipt);
  }

  private async invokeHandler(text: string, triggerMetadata: Record<string, string | number>): Promise<void> {
    const { registration, log, queue } = this.options;
    await invoke(
      {
        functionName: registration.name,
        reason: `New queue message detected on '${queue.name}'.`,
        triggerType: 'queueTrigger',
        triggerMetadata,
        log,
      },
      async (context) => {
        await registration.options.handler(parseTriggerValue(text), context);
      },
    );
  }
}
