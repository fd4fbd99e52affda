import type { WebhookSignatures } from '../config';
import { problem, type ProblemResponse } from '../http/problem';
import type { SecretStore } from '../secrets/types';
import { readSigningSecrets, verifyWebhook, type SignatureFailure, type SigningSecrets } from './signing';

/**
 * The signing mode in force: the webhooks' gate and the health check ask the same question. `required` with the
 * secrets to verify against; `disabled`, the explicit local opt-out; `unavailable` when signatures are required but
 * there is no usable secret (not set, not a `whsec_` secret, or the secret store cannot answer): then every POST
 * webhook is refused. `problem` is for the operators' log: it names the setting, never a value.
 */
export type WebhookSigning =
  | { mode: 'required'; secrets: string[] }
  | { mode: 'disabled' }
  | { mode: 'unavailable'; cause: 'not-set' | 'malformed' | 'unreadable'; problem: string };

export async function webhookSigning(store: SecretStore, signatures: WebhookSignatures): Promise<WebhookSigning> {
  if (signatures === 'disabled') return { mode: 'disabled' };
  let read: SigningSecrets;
  try {
    read = await readSigningSecrets(store, 'WEBHOOK_SIGNING_SECRET');
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'unknown error';
    return { mode: 'unavailable', cause: 'unreadable', problem: `WEBHOOK_SIGNING_SECRET could not be read: ${reason}` };
  }
  if (read.ok) return { mode: 'required', secrets: read.secrets };
  const problem =
    read.cause === 'not-set' ? `${read.problem}: every POST webhook is refused until it is` : read.problem;
  return { mode: 'unavailable', cause: read.cause, problem };
}

export type WebhookAuthentication =
  | { ok: true; signed: boolean }
  | { ok: false; kind: 'rejected'; reason: SignatureFailure; response: ProblemResponse }
  | { ok: false; kind: 'unavailable'; problem: string; response: ProblemResponse };

/** Seconds before retrying when an operator must store the secret, and when the secret store did not answer. */
const RETRY_AFTER_SECONDS = { operator: 300, store: 30 } as const;

/**
 * The signature gate every POST webhook runs on its raw body (read once) before anything else. Fails closed: without
 * a usable `WEBHOOK_SIGNING_SECRET` the answer is 503 naming it (never "unsigned is fine"), unless signatures are
 * `disabled` (a local opt-out the config refuses in Azure). A signature that does not verify is a 401, the same for
 * every failure (`reason` is for the log and telemetry only).
 */
export async function authenticateWebhook(
  store: SecretStore,
  signatures: WebhookSignatures,
  rawBody: Buffer,
  headers: { get(name: string): string | null },
): Promise<WebhookAuthentication> {
  const signing = await webhookSigning(store, signatures);
  switch (signing.mode) {
    case 'disabled':
      return { ok: true, signed: false };
    case 'unavailable':
      return { ok: false, kind: 'unavailable', problem: signing.problem, response: signingUnavailableProblem(signing) };
    case 'required': {
      const check = verifyWebhook(signing.secrets, rawBody, headers);
      if (check.ok) return { ok: true, signed: true };
      return { ok: false, kind: 'rejected', reason: check.reason, response: invalidSignatureProblem() };
    }
  }
}

/** 503 naming the setting: an operator must store a secret (or the secret store must answer again). */
function signingUnavailableProblem(signing: Extract<WebhookSigning, { mode: 'unavailable' }>): ProblemResponse {
  const unreadable = signing.cause === 'unreadable';
  return problem(503, 'webhook-signing-unavailable', 'Webhook signatures cannot be checked', {
    detail: unreadable
      ? 'WEBHOOK_SIGNING_SECRET could not be read; retry later.'
      : 'WEBHOOK_SIGNING_SECRET is not set to a usable signing secret: an operator must store one. No webhook is ' +
        'accepted unsigned.',
    retryAfterSeconds: unreadable ? RETRY_AFTER_SECONDS.store : RETRY_AFTER_SECONDS.operator,
  });
}

/** The one 401 answer for every signature failure: it tells the caller the scheme, nothing about what was wrong. */
export function invalidSignatureProblem(instance?: string): ProblemResponse {
  return problem(401, 'invalid-signature', 'The request signature is not valid', {
    detail:
      'Sign the raw body as Standard Webhooks do: webhook-id, webhook-timestamp (unix seconds) and webhook-signature ' +
      '(v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">).',
    instance,
  });
}
