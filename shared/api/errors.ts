import { isRestError } from '@azure/core-rest-pipeline';
import { asError } from '../errors';
import { problem, type ProblemResponse } from '../http/problem';
import {
  ClientCredentialInvalidError,
  MissingSecretError,
  PartnerCenterCredentialError,
  PartnerCenterError,
  RefreshTokenInvalidError,
} from '../partner-center';
import { SecretUnavailableError } from '../secrets/errors';
import type { Telemetry } from '../telemetry/telemetry';

/** How long a caller should wait before retrying, by kind of failure (seconds). */
export const RETRY_AFTER_SECONDS = { transient: 30, auth: 300, storage: 15 } as const;

export interface ErrorContext {
  instance: string;
  telemetry: Telemetry;
  /** Logs for operators (context.error / warn). Never receives a secret: errors here carry none by construction. */
  log: (level: 'warn' | 'error', message: string) => void;
}

/**
 * A refusal's answer fields: Partner Center's code and its description of a documented refusal (900105 suspended
 * subscriptions, …) — what the caller must act on. A refusal without a code is an answer the client could not read
 * (a proxy's page, a cut body): its text is dependency text, so a fixed one stands in (the client logs the real one).
 */
function refusal(error: PartnerCenterError, fallback: string): Record<string, unknown> {
  const description = error.code !== undefined ? error.description : undefined;
  return {
    detail: description ?? fallback,
    partnerCenterCode: error.code,
    partnerCenterDescription: description,
    partnerCenterRequestId: error.requestId,
  };
}

/** The operator must act (consent or app secret): a 503 whose type says so, and an alert-worthy event. */
function partnerCenterAuthProblem(error: Error, context: ErrorContext): ProblemResponse {
  const event = error instanceof RefreshTokenInvalidError ? 'RefreshTokenInvalid' : 'PartnerCenterAuthFailed';
  context.telemetry.event(event, { error: error.name, instance: context.instance });
  context.log('error', `Partner Center authentication failed (${error.name}): ${error.message}`);
  const detail =
    error instanceof RefreshTokenInvalidError || error instanceof MissingSecretError
      ? 'The app cannot sign in to Partner Center: an operator must renew the Partner Center consent.'
      : error instanceof ClientCredentialInvalidError
        ? 'The app cannot sign in to Partner Center: an operator must renew the app registration secret.'
        : "Partner Center refused the app's credentials: an operator must check the app registration and consent.";
  return problem(503, 'partner-center-auth', 'Partner Center authentication failed', {
    detail,
    instance: context.instance,
    retryAfterSeconds: RETRY_AFTER_SECONDS.auth,
  });
}

/**
 * Maps any failure behind a webhook to its answer: Partner Center's business refusals become 422/409 problem details
 * carrying its code and description; throttling, outages, storage and Key Vault failures become 503 with
 * Retry-After; never a 500, never a stack trace.
 */
export function problemForError(error: unknown, context: ErrorContext): ProblemResponse {
  if (error instanceof PartnerCenterCredentialError) {
    if (error.category === 'auth') return partnerCenterAuthProblem(error, context);
    context.log('warn', `Partner Center token endpoint unavailable: ${error.message}`);
    return problem(503, 'dependency-unavailable', 'Partner Center sign-in is unavailable', {
      detail: 'The token endpoint did not answer as expected; retry later.',
      instance: context.instance,
      retryAfterSeconds: RETRY_AFTER_SECONDS.transient,
    });
  }
  if (error instanceof PartnerCenterError) {
    switch (error.category) {
      case 'auth':
        return partnerCenterAuthProblem(error, context);
      case 'throttled':
      case 'transient':
        context.log('warn', error.message);
        return problem(503, 'dependency-unavailable', 'Partner Center is unavailable', {
          detail:
            error.category === 'throttled'
              ? 'Partner Center is throttling requests; retry after the indicated delay.'
              : 'Partner Center did not answer as expected; retry later.',
          instance: context.instance,
          retryAfterSeconds: error.retryAfterMs ? error.retryAfterMs / 1000 : RETRY_AFTER_SECONDS.transient,
          partnerCenterRequestId: error.requestId,
        });
      case 'conflict':
        return problem(409, 'conflict', 'Partner Center reports a conflicting upgrade', {
          instance: context.instance,
          ...refusal(error, 'Partner Center reports that the request conflicts with an existing upgrade.'),
        });
      default:
        return problem(422, 'partner-center-rejected', 'Partner Center refused the request', {
          instance: context.instance,
          ...refusal(error, 'Partner Center refused the request without an error code.'),
        });
    }
  }
  if (error instanceof SecretUnavailableError) {
    context.log('error', error.message);
    return problem(503, 'dependency-unavailable', 'Key Vault is unavailable', {
      detail: 'A secret the app needs could not be read; retry later.',
      instance: context.instance,
      retryAfterSeconds: RETRY_AFTER_SECONDS.transient,
    });
  }
  if (isRestError(error)) {
    context.log('warn', `Storage call failed: HTTP ${error.statusCode ?? 'none'} ${error.code ?? ''}`.trim());
    return problem(503, 'dependency-unavailable', 'Table Storage is unavailable', {
      detail: 'The app could not read or write its state; retry later.',
      instance: context.instance,
      retryAfterSeconds: RETRY_AFTER_SECONDS.storage,
    });
  }
  // A failure nobody anticipated: report it, answer as a dependency failure (the caller retries; nothing was lost).
  context.telemetry.exception(asError(error), {
    instance: context.instance,
  });
  context.log(
    'error',
    `Unexpected failure: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
  );
  return problem(503, 'dependency-unavailable', 'The request could not be completed', {
    detail: 'An unexpected failure occurred; retry later.',
    instance: context.instance,
    retryAfterSeconds: RETRY_AFTER_SECONDS.transient,
  });
}
