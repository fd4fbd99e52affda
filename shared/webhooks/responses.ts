/**
 * The response shape the webhook helpers take and give back: a plain object shaped like the Functions library's
 * `HttpResponseInit` (shared/ does not import @azure/functions).
 */
export interface HttpResponseShape {
  status: number;
  headers?: Record<string, string>;
  jsonBody?: unknown;
  body?: string;
}

/** Marks an answer replayed from storage (the same header Stripe uses). */
export const REPLAYED_HEADER = 'idempotent-replayed';

/** Headers worth replaying; others (dates, trace ids) belong to the first answer only. */
const STORED_HEADERS = ['content-type', 'location', 'cache-control', 'content-language'];

export function storedHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (STORED_HEADERS.includes(name.toLowerCase())) kept[name.toLowerCase()] = value;
  }
  return kept;
}

/**
 * Only final answers are kept for replay: 2xx, 3xx and 4xx other than 408/429. A 5xx, 408 or 429 says "try again",
 * so a retry must really run again.
 */
export function isReplayable(status: number): boolean {
  return status >= 200 && status < 500 && status !== 408 && status !== 429;
}
