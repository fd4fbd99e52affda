import type { HttpHeaders } from '@azure/core-rest-pipeline';

/**
 * How long the server asked us to wait, in ms: `retry-after-ms` / `x-ms-retry-after-ms`, then `Retry-After` as
 * seconds or an HTTP date, then (429 only) the "Try again in N seconds" sentence of Partner Center's 429 body.
 */
export function retryAfterMs(headers: HttpHeaders, bodyText?: string, now: number = Date.now()): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = Number(headers.get(name));
    if (headers.get(name) && Number.isFinite(value) && value >= 0) return Math.round(value);
  }
  const header = headers.get('retry-after')?.trim();
  if (header) {
    if (/^\d+(\.\d+)?$/.test(header)) return Math.round(Number(header) * 1000);
    const date = Date.parse(header);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  const sentence = bodyText ? /try again in (\d+(?:\.\d+)?)\s*seconds?/i.exec(bodyText) : null;
  if (sentence) return Math.round(Number(sentence[1]) * 1000);
  return undefined;
}
