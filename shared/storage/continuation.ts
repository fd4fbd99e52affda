/**
 * Continuation tokens of paged table queries, as `@azure/data-tables` hands them out (`byPage()`): base64 of JSON
 * naming the next keys. An API gives them to its caller and takes them back; what comes back is checked here before
 * any query (anything else is the caller's error, answered 400), and each reader checks that the keys fall in its
 * own range.
 */

export interface ContinuationKeys {
  nextPartitionKey: string;
  nextRowKey?: string;
}

export class InvalidContinuationTokenError extends Error {
  constructor() {
    super('The continuation token is not valid');
    this.name = 'InvalidContinuationTokenError';
  }
}

/** The keys a token names, or undefined when it is not a token the SDK could have made. */
export function readContinuationToken(token: string): ContinuationKeys | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { nextPartitionKey, nextRowKey } = parsed as Record<string, unknown>;
    if (typeof nextPartitionKey !== 'string' || nextPartitionKey === '') return undefined;
    if (nextRowKey !== undefined && typeof nextRowKey !== 'string') return undefined;
    return nextRowKey === undefined ? { nextPartitionKey } : { nextPartitionKey, nextRowKey };
  } catch {
    return undefined;
  }
}
