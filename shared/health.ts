import { RestError } from '@azure/data-tables';
import type { Tables } from './storage/tables';

/** What `GET /api/health` says of each dependency: nothing more (no code, no message, no host name). */
export type CheckStatus = 'ok' | 'unavailable';

/**
 * Which webhook signature mode is on: `required` (a usable `WEBHOOK_SIGNING_SECRET`), `disabled` (the local opt-out,
 * refused in Azure) or `unavailable` (required, but no usable secret: every POST webhook is refused).
 */
export type SignaturesStatus = 'required' | 'disabled' | 'unavailable';

export interface StorageCheck {
  status: CheckStatus;
  latencyMs: number;
  /** Why it is unavailable, for the operators' log only: never part of an answer. */
  problem?: string;
}

/** The anonymous health answer: a named status per check, so a later check is one more property. */
export interface HealthReport {
  status: CheckStatus;
  version: string;
  checks: Record<string, CheckStatus | SignaturesStatus>;
}

const CHECK_TIMEOUT_MS = 5000;

/**
 * A real round-trip to Table Storage that creates and writes nothing: a point read of a row that never exists in
 * the `Health` table, which the deployment creates (`infra/`; `npm start` does the same on Azurite). 404
 * EntityNotFound proves the service answers, the identity may read, and the app's tables exist; a missing table is
 * a deployment that is not whole, so it is `unavailable` too — an anonymous caller can make the app create nothing.
 */
export async function checkStorage(tables: Tables): Promise<StorageCheck> {
  const started = performance.now();
  const result = (problem?: string): StorageCheck => ({
    status: problem === undefined ? 'ok' : 'unavailable',
    latencyMs: Math.round(performance.now() - started),
    ...(problem === undefined ? {} : { problem }),
  });
  try {
    await tables.client('health').getEntity('probe', 'probe', { abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    return result();
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 404) {
      return result(
        storageErrorCode(error) === 'TableNotFound' ? "the app's tables do not exist (Health is missing)" : undefined,
      );
    }
    return result(describe(error));
  }
}

/** The health answer for these check results (`unavailable` as soon as one check is). */
export function healthReport(version: string, checks: HealthReport['checks']): HealthReport {
  const status = Object.values(checks).some((check) => check === 'unavailable') ? 'unavailable' : 'ok';
  return { status, version, checks };
}

/** The service's error code: `code` when the SDK filled it in, else the `x-ms-error-code` header of the answer. */
function storageErrorCode(error: RestError): string | undefined {
  return error.code ?? error.response?.headers.get('x-ms-error-code') ?? undefined;
}

function describe(error: unknown): string {
  if (error instanceof RestError) {
    return error.statusCode
      ? `storage answered ${error.statusCode} ${storageErrorCode(error) ?? ''}`.trim()
      : `storage unreachable (${error.code ?? 'network error'})`;
  }
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) {
    return `no answer within ${CHECK_TIMEOUT_MS} ms`;
  }
  return 'storage unreachable';
}
