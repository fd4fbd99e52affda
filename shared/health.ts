import { RestError } from '@azure/data-tables';
import type { Tables } from './storage/tables';

export interface StorageCheck {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

const CHECK_TIMEOUT_MS = 5000;

/**
 * A real round-trip to Table Storage: a point read of an entity that never exists. 404 EntityNotFound proves the
 * service answers and the table exists; a missing table is created once. No data is written.
 */
export async function checkStorage(tables: Tables): Promise<StorageCheck> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const abortSignal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
  const client = tables.client('health');
  try {
    await client.getEntity('probe', 'probe', { abortSignal });
    return { ok: true, latencyMs: elapsed() };
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 404) {
      if (error.code === 'TableNotFound') {
        try {
          await client.createTable({ abortSignal });
        } catch (createError) {
          return { ok: false, latencyMs: elapsed(), error: describe(createError) };
        }
      }
      return { ok: true, latencyMs: elapsed() };
    }
    return { ok: false, latencyMs: elapsed(), error: describe(error) };
  }
}

function describe(error: unknown): string {
  if (error instanceof RestError) {
    return error.statusCode
      ? `storage answered ${error.statusCode} ${error.code ?? ''}`.trim()
      : `storage unreachable (${error.code ?? 'network error'})`;
  }
  if (error instanceof Error && error.name === 'AbortError') return `no answer within ${CHECK_TIMEOUT_MS} ms`;
  return 'storage unreachable';
}
