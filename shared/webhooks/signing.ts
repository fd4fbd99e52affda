import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { FieldError } from '../http/problem';
import type { SecretStore } from '../secrets/types';

/**
 * Standard Webhooks (https://www.standardwebhooks.com), both ways: the billing system's calls to the app and the
 * app's billing callbacks. Every signed request carries three headers,
 *
 *   webhook-id: <the message id>        webhook-timestamp: <unix seconds>
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")> [v1,<...> ...]
 *
 * where the key is the base64 after `whsec_` in the secret. Signing and matching are the `standardwebhooks`
 * package's (the specification's JavaScript library), so a billing system verifies and signs with the official
 * library of its own language. Several space-separated signatures are allowed (a sender signing with an old and a
 * new secret during a rotation): any valid one passes. The timestamp must be within five minutes of now, either way.
 */
export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** The specification's bounds on a secret's random bytes (192 to 512 bits). */
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;
const SECRET_PREFIX = 'whsec_';
const MAX_WEBHOOK_ID_LENGTH = 255;
const MAX_SIGNATURE_HEADER_LENGTH = 4096;

/** The three headers of a signed request, by their (lower-case) names (a type, so it is a plain header record). */
export type SignatureHeaders = {
  [WEBHOOK_ID_HEADER]: string;
  [WEBHOOK_TIMESTAMP_HEADER]: string;
  [WEBHOOK_SIGNATURE_HEADER]: string;
};

/** Why a request's signature was refused: for logs and telemetry, never for the answer (one 401 for all). */
export type SignatureFailure =
  'missing-header' | 'malformed-header' | 'timestamp-out-of-tolerance' | 'no-matching-signature';

export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure };

/**
 * What is wrong with one secret value, in words that never hold any part of it; undefined when it is usable:
 * `whsec_` and the standard base64 of 24 to 64 random bytes.
 */
export function signingSecretProblem(value: string): string | undefined {
  const format = `must be ${SECRET_PREFIX} followed by the base64 of ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} random bytes`;
  if (!value.startsWith(SECRET_PREFIX)) return `${format} (it does not start with ${SECRET_PREFIX})`;
  const encoded = value.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return `${format} (it is not base64)`;
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < MIN_SECRET_BYTES) return `${format} (it holds ${bytes})`;
  if (bytes > MAX_SECRET_BYTES) return `${format} (it holds ${bytes})`;
  return undefined;
}

export type ParsedSecrets = { ok: true; secrets: string[] } | { ok: false; problem: string };

/**
 * A signing secret setting: one secret, or several separated by commas during a rotation (blanks around them are
 * dropped). Unset or blank is an empty list; one malformed secret refuses the whole value.
 */
export function parseSigningSecrets(value: string | undefined): ParsedSecrets {
  const secrets = (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  for (const [index, secret] of secrets.entries()) {
    const problem = signingSecretProblem(secret);
    if (problem) return { ok: false, problem: secrets.length > 1 ? `secret ${index + 1}: ${problem}` : problem };
  }
  return { ok: true, secrets };
}

export type SigningSecrets =
  { ok: true; secrets: string[] } | { ok: false; cause: 'not-set' | 'malformed'; problem: string };

/**
 * A signing-secret setting as the secret store holds it: its secrets, or why there are none (`not-set`, or
 * `malformed`), `problem` naming the setting and never a value. A store that cannot answer throws, as the store does.
 */
export async function readSigningSecrets(
  store: Pick<SecretStore, 'get'>,
  name: 'WEBHOOK_SIGNING_SECRET' | 'CALLBACK_SIGNING_SECRET',
): Promise<SigningSecrets> {
  const parsed = parseSigningSecrets(await store.get(name));
  if (!parsed.ok) return { ok: false, cause: 'malformed', problem: `${name} ${parsed.problem}` };
  if (parsed.secrets.length === 0) return { ok: false, cause: 'not-set', problem: `${name} is not set` };
  return parsed;
}

/** A new secret as the specification recommends it: `whsec_` and 32 random bytes. */
export function newSigningSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** A webhook-id the app accepts: 1 to 255 visible ASCII characters (a UUID or `msg_…` is the usual choice). */
export function webhookIdProblem(id: string | null): FieldError | undefined {
  if (id === null || id === '') return { field: WEBHOOK_ID_HEADER, message: 'is required' };
  if (id.length > MAX_WEBHOOK_ID_LENGTH || !/^[\x21-\x7e]+$/.test(id)) {
    return { field: WEBHOOK_ID_HEADER, message: `must be 1 to ${MAX_WEBHOOK_ID_LENGTH} visible ASCII characters` };
  }
  return undefined;
}

/**
 * The headers that sign `body` as message `id` at `at` (unix seconds): one `v1` signature per secret, so a receiver
 * holding any of them verifies it.
 */
export function signWebhook(
  secrets: readonly string[],
  id: string,
  body: string | Buffer,
  at: number = Math.floor(Date.now() / 1000),
): SignatureHeaders {
  if (secrets.length === 0) throw new Error('signWebhook needs a secret');
  if (!Number.isSafeInteger(at) || at < 0) throw new Error('signWebhook needs unix seconds');
  const when = new Date(at * 1000);
  return {
    [WEBHOOK_ID_HEADER]: id,
    [WEBHOOK_TIMESTAMP_HEADER]: String(at),
    [WEBHOOK_SIGNATURE_HEADER]: secrets.map((secret) => new Webhook(secret).sign(id, when, body)).join(' '),
  };
}

/**
 * Verifies a request over its raw bytes (read once, before any JSON parsing) against every accepted secret. The
 * headers are checked first so that the log can say what was wrong; the match itself is the library's `verify`
 * (constant-time). The clock is the system's, as the library reads it: a second clock here could only disagree with
 * it. Every secret is tried, matched or not, so timing does not tell which one matched.
 */
export function verifyWebhook(
  secrets: readonly string[],
  rawBody: Buffer,
  headers: { get(name: string): string | null },
): SignatureCheck {
  const id = headers.get(WEBHOOK_ID_HEADER);
  const timestamp = headers.get(WEBHOOK_TIMESTAMP_HEADER);
  const signature = headers.get(WEBHOOK_SIGNATURE_HEADER);
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing-header' };
  if (webhookIdProblem(id) || !/^\d{1,12}$/.test(timestamp) || !wellFormedSignatures(signature)) {
    return { ok: false, reason: 'malformed-header' };
  }
  if (Math.abs(Math.floor(Date.now() / 1000) - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) {
    return { ok: false, reason: 'timestamp-out-of-tolerance' };
  }
  const signed: SignatureHeaders = {
    [WEBHOOK_ID_HEADER]: id,
    [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
    [WEBHOOK_SIGNATURE_HEADER]: signature,
  };
  let matched = false;
  for (const secret of secrets) {
    try {
      new Webhook(secret).verify(rawBody, { ...signed }, { jsonParse: false });
      matched = true;
    } catch {
      // Not this secret (WebhookVerificationError): the next one may match.
    }
  }
  return matched ? { ok: true } : { ok: false, reason: 'no-matching-signature' };
}

/** Space-separated `<version>,<signature>` entries (versions the library does not know are ignored when matching). */
function wellFormedSignatures(header: string): boolean {
  if (header.length > MAX_SIGNATURE_HEADER_LENGTH) return false;
  const entries = header.split(' ').filter((entry) => entry !== '');
  return entries.length > 0 && entries.every((entry) => /^v[0-9a-z]+,[A-Za-z0-9+/=_-]+$/.test(entry));
}
