import { dependencyProblem, type ProblemResponse } from '../http/problem';
import { getSecretList } from '../secrets/list';
import type { SecretStore } from '../secrets/types';
import { invalidSignatureProblem, verifySignature, type SignatureFailure } from './signature';

export type WebhookAuthentication =
  | { ok: true; signed: boolean }
  | { ok: false; reason: SignatureFailure | 'secret-unavailable'; response: ProblemResponse };

/**
 * The signature gate every POST webhook runs on its raw body (read once) before anything else: when
 * `WEBHOOK_SIGNING_SECRET` holds one or more secrets, `X-Signature` must verify against one of them (401 problem
 * otherwise, the same for every failure; `reason` is for the log only). Unset: signatures are not required
 * (`signed: false`). A secret store that cannot answer (Key Vault down on a cold start) is a 503, never a 500.
 */
export async function authenticateWebhook(
  store: SecretStore,
  rawBody: Buffer,
  signatureHeader: string | null,
  now: () => number = Date.now,
): Promise<WebhookAuthentication> {
  let secrets: string[];
  try {
    secrets = await getSecretList(store, 'WEBHOOK_SIGNING_SECRET');
  } catch {
    return { ok: false, reason: 'secret-unavailable', response: dependencyProblem('The secret store', 30) };
  }
  if (secrets.length === 0) return { ok: true, signed: false };
  const check = verifySignature(rawBody, signatureHeader, secrets, now);
  if (check.ok) return { ok: true, signed: true };
  return { ok: false, reason: check.reason, response: invalidSignatureProblem() };
}
