import { createHmac, timingSafeEqual } from 'node:crypto';
import { problem, type ProblemResponse } from '../http/problem';

/**
 * Stripe-style request signatures, used both ways (inbound webhooks, outbound billing callbacks):
 *
 *   X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=<...>]
 *
 * Several `v1` values are allowed (a sender signing with old and new secret during a rotation); any valid one
 * passes. Unknown schemes (`v0=`, `v2=`) are ignored. The timestamp must be within 300 s of now, both ways.
 */
export const SIGNATURE_HEADER = 'x-signature';
export const SIGNATURE_TOLERANCE_SECONDS = 300;
const SIGNATURE_BYTES = 32;
const MAX_HEADER_LENGTH = 4096;

export type SignatureFailure =
  | 'missing-header'
  | 'malformed-header'
  | 'not-hex'
  | 'wrong-length'
  | 'timestamp-out-of-tolerance'
  | 'no-matching-signature'
  | 'no-secret';

export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure };

function hmac(secret: string, timestamp: number, rawBody: Buffer | string): Buffer {
  return createHmac('sha256', secret)
    .update(`${timestamp}.`, 'utf8')
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .digest();
}

/**
 * The header value for a body. With several secrets (rotation), one `v1` per secret, so a receiver holding either
 * verifies it.
 */
export function signPayload(
  rawBody: Buffer | string,
  secret: string | readonly string[],
  timestamp: number = Math.floor(Date.now() / 1000),
): string {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0 || secrets.some((s) => s.length === 0)) throw new Error('signPayload needs a secret');
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new Error('signPayload needs unix seconds');
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${hmac(s, timestamp, rawBody).toString('hex')}`)].join(',');
}

interface ParsedHeader {
  timestamp: number;
  signatures: Buffer[];
}

/** Strict parse: `key=value` pairs, exactly one `t` (digits), at least one `v1` (64 hex characters). */
function parseHeader(header: string): ParsedHeader | SignatureFailure {
  if (header.length > MAX_HEADER_LENGTH) return 'malformed-header';
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const match = /^([a-z][a-z0-9]*)=([^=\s]+)$/.exec(part);
    if (!match) return 'malformed-header';
    const key = match[1];
    const value = match[2];
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value)) return 'malformed-header';
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-fA-F]*$/.test(value) || value.length % 2 !== 0) return 'not-hex';
      const bytes = Buffer.from(value, 'hex');
      if (bytes.length !== SIGNATURE_BYTES) return 'wrong-length';
      signatures.push(bytes);
    }
    // Other schemes are ignored, as Stripe does, so senders can add newer ones.
  }
  if (timestamp === undefined || signatures.length === 0) return 'malformed-header';
  return { timestamp, signatures };
}

/**
 * Verifies a signature over the raw request bytes (read once, before any JSON parsing). `secrets` holds every
 * currently accepted secret (rotation). The reason is for logs only: the HTTP answer is the same for every failure.
 */
export function verifySignature(
  rawBody: Buffer,
  header: string | null | undefined,
  secrets: readonly string[],
  now: () => number = Date.now,
): SignatureCheck {
  const usable = secrets.filter((s) => s.length > 0);
  if (usable.length === 0) return { ok: false, reason: 'no-secret' };
  if (header === null || header === undefined || header === '') return { ok: false, reason: 'missing-header' };
  const parsed = parseHeader(header);
  if (typeof parsed === 'string') return { ok: false, reason: parsed };
  const nowSeconds = Math.floor(now() / 1000);
  if (Math.abs(nowSeconds - parsed.timestamp) > SIGNATURE_TOLERANCE_SECONDS) {
    return { ok: false, reason: 'timestamp-out-of-tolerance' };
  }
  let matched = false;
  // Every comparison runs (no early exit) so timing does not tell which secret or signature matched.
  for (const secret of usable) {
    const expected = hmac(secret, parsed.timestamp, rawBody);
    for (const candidate of parsed.signatures) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
    }
  }
  return matched ? { ok: true } : { ok: false, reason: 'no-matching-signature' };
}

/** The one 401 answer for every signature failure: it tells the caller the format, nothing about what was wrong. */
export function invalidSignatureProblem(instance?: string): ProblemResponse {
  return problem(401, 'invalid-signature', 'The request signature is not valid', {
    detail: 'Sign the raw body as documented: X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.',
    instance,
  });
}
