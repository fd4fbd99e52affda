import type { QueueClient } from '@azure/storage-queue';

/**
 * The one way the app sends queue messages. The Functions queue trigger expects base64 text (host.json
 * `messageEncoding`), but `sendMessage` sends text as-is, so every sender must come through here.
 */

/** Queue messages are limited to 64 KiB of (base64) text. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** Names the Functions host puts in triggerMetadata: a payload key with one of these names would shadow it. */
const RESERVED_KEYS = [
  'id',
  'dequeueCount',
  'popReceipt',
  'insertionTime',
  'expirationTime',
  'nextVisibleTime',
  'queueTrigger',
];

export class QueueMessageTooLargeError extends Error {
  constructor(readonly bytes: number) {
    super(`Queue message of ${bytes} bytes (base64) exceeds the ${MAX_MESSAGE_BYTES}-byte limit`);
    this.name = 'QueueMessageTooLargeError';
  }
}

export function encodeQueueMessage(payload: object): string {
  for (const key of Object.keys(payload)) {
    if (RESERVED_KEYS.includes(key)) throw new Error(`Queue payload key "${key}" would shadow trigger metadata`);
  }
  const encoded = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64');
  if (encoded.length > MAX_MESSAGE_BYTES) throw new QueueMessageTooLargeError(encoded.length);
  return encoded;
}

export interface SendOptions {
  /** Seconds before the message becomes visible (0 = now). */
  visibilityTimeoutSeconds?: number;
  abortSignal?: AbortSignal;
}

/** Sends a JSON payload base64-encoded; creates the queue when it does not exist yet. */
export async function sendQueueMessage(
  queue: QueueClient,
  payload: object,
  options: SendOptions = {},
): Promise<string> {
  const text = encodeQueueMessage(payload);
  const send = () =>
    queue.sendMessage(text, {
      visibilityTimeout: options.visibilityTimeoutSeconds,
      abortSignal: options.abortSignal,
    });
  try {
    return (await send()).messageId;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    await queue.createIfNotExists({ abortSignal: options.abortSignal });
    return (await send()).messageId;
  }
}
