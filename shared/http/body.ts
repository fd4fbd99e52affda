import { problem, validationProblem, type ProblemResponse } from './problem';

/** Webhook bodies are tiny JSON documents; anything larger is refused before it is read. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

/** The part of a Functions `HttpRequest` the reader needs (shared/ does not import the Functions library). */
export interface BodyRequest {
  headers: { get(name: string): string | null };
  body: ReadableStream<Uint8Array> | null;
}

export type RawBodyResult = { ok: true; raw: Buffer } | { ok: false; response: ProblemResponse };

function isJsonContentType(value: string | null): boolean {
  if (!value) return false;
  const mediaType = value.split(';')[0].trim().toLowerCase();
  return mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

function tooLarge(maxBytes: number, instance?: string): ProblemResponse {
  return problem(413, 'payload-too-large', 'The request body is too large', {
    detail: `The body must not exceed ${maxBytes} bytes.`,
    instance,
  });
}

/**
 * Reads the raw body bytes once, refusing a non-JSON content type (415) and an oversized body (413) before
 * buffering it: a declared Content-Length over the limit is refused unread, and a streamed body is cut off as soon
 * as it passes the limit. Signature verification then runs over exactly these bytes.
 */
export async function readRawJsonBody(
  request: BodyRequest,
  options: { maxBytes?: number; instance?: string } = {},
): Promise<RawBodyResult> {
  const maxBytes = options.maxBytes ?? MAX_JSON_BODY_BYTES;
  if (!isJsonContentType(request.headers.get('content-type'))) {
    return {
      ok: false,
      response: problem(415, 'unsupported-media-type', 'The request body must be JSON', {
        detail: 'Send the body as application/json.',
        instance: options.instance,
      }),
    };
  }
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > maxBytes) {
    return { ok: false, response: tooLarge(maxBytes, options.instance) };
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        return { ok: false, response: tooLarge(maxBytes, options.instance) };
      }
      chunks.push(Buffer.from(value));
    }
  }
  return { ok: true, raw: Buffer.concat(chunks, total) };
}

/** Parses raw bytes as JSON: an empty or malformed body is a 400 naming `body`. */
export function parseJsonBody(
  raw: Buffer,
  instance?: string,
): { ok: true; json: unknown } | { ok: false; response: ProblemResponse } {
  if (raw.length === 0) {
    return { ok: false, response: validationProblem([{ field: 'body', message: 'is required' }], instance) };
  }
  try {
    return { ok: true, json: JSON.parse(raw.toString('utf8')) as unknown };
  } catch {
    return { ok: false, response: validationProblem([{ field: 'body', message: 'is not valid JSON' }], instance) };
  }
}
