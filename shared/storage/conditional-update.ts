import type { TableClient, TableEntity, TransactionAction } from '@azure/data-tables';
import { isConflict, isNotFound, isPreconditionFailed } from './tables';

/**
 * The one read → decide → conditional write of the app, for every row that more than one writer may change at once
 * (an upgrade row, a webhook reservation, a callback record). Table Storage has no locks: a write carries the ETag of
 * the row it was decided on (or is an insert when there was none), and when another writer got there first (412 on
 * replace/delete, 409 on insert, 404 when the row vanished) the row is read again and `decide` runs again, at most
 * `maxAttempts` times.
 *
 * `decide` only decides: it is a plain function of the row it is given, with no I/O and no side effect, because a
 * conflict runs it again. Whatever must happen around the write (a history row, a message) happens before the call or
 * after it returns, driven by the `result` the decision carries.
 */

/** How often a contended row is re-read before giving up (a few is plenty: each retry follows a real change). */
export const MAX_CONDITIONAL_ATTEMPTS = 5;

export interface RowKeys {
  partitionKey: string;
  rowKey: string;
}

/** A row as read, with the ETag a write must match. */
export type StoredRow<E> = E & RowKeys & { etag: string };

/**
 * What to do with the row: `write` stores the entity (an insert when there was no row, else a replace — or a merge —
 * conditional on the ETag read), `delete` removes the row read (conditional on its ETag), neither leaves it alone.
 * `result` is handed back to the caller either way. A write may carry `alongside`: writes to other rows of the same
 * partition that must land with it or not at all (one entity-group transaction, still conditional on the ETag read).
 */
export type Decision<E, R> =
  | { result: R; write: E; mode?: 'Replace' | 'Merge'; alongside?: TransactionAction[] }
  | { result: R; delete: true }
  | { result: R };

export interface ConditionalOutcome<E, R> {
  result: R;
  /** The row as it stands after the call: what was written, what was left, or undefined (none, or deleted). */
  row: E | undefined;
  /** ETag of the row as it stands (undefined when there is none). */
  etag: string | undefined;
  /** Whether this call wrote (or deleted) anything. */
  changed: boolean;
}

export class ConditionalUpdateConflictError extends Error {
  constructor(what: string, attempts: number) {
    super(`${what}: still contended after ${attempts} attempts`);
    this.name = 'ConditionalUpdateConflictError';
  }
}

export interface ConditionalUpdateOptions<E> {
  /** The row as the caller already holds it (from a write it just made, or a query): saves the first read. */
  known?: StoredRow<E> | { absent: true };
  maxAttempts?: number;
  /** Names the row in the conflict error (e.g. "upgrade 42…"). */
  what?: string;
}

/** Reads one row; undefined when it does not exist. */
export async function readRow<E extends object>(table: TableClient, keys: RowKeys): Promise<StoredRow<E> | undefined> {
  try {
    return (await table.getEntity<E>(keys.partitionKey, keys.rowKey)) as StoredRow<E>;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function conditionalUpdate<E extends object, R>(
  table: TableClient,
  keys: RowKeys,
  decide: (current: StoredRow<E> | undefined) => Decision<E, R>,
  options: ConditionalUpdateOptions<E> = {},
): Promise<ConditionalOutcome<E, R>> {
  const maxAttempts = options.maxAttempts ?? MAX_CONDITIONAL_ATTEMPTS;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const current =
      attempt === 1 && options.known
        ? 'absent' in options.known
          ? undefined
          : options.known
        : await readRow<E>(table, keys);
    const decision = decide(current);
    try {
      if ('write' in decision) {
        const entity = { ...decision.write, ...keys } as TableEntity<E>;
        const mode = decision.mode ?? 'Replace';
        let etag: string | undefined;
        if (decision.alongside?.length) {
          const own: TransactionAction = current
            ? ['update', entity, mode, { etag: current.etag }]
            : ['create', entity];
          const response = await table.submitTransaction([own, ...decision.alongside]);
          etag = response.subResponses[0]?.etag;
        } else {
          const response = current
            ? await table.updateEntity(entity, mode, { etag: current.etag })
            : await table.createEntity(entity);
          etag = response.etag;
        }
        return { result: decision.result, row: decision.write, etag, changed: true };
      }
      if ('delete' in decision) {
        if (current) await table.deleteEntity(keys.partitionKey, keys.rowKey, { etag: current.etag });
        return { result: decision.result, row: undefined, etag: undefined, changed: current !== undefined };
      }
      return { result: decision.result, row: current, etag: current?.etag, changed: false };
    } catch (error) {
      // Another writer got there first (on this row, or on a row written alongside): read again and decide again.
      const raced = isPreconditionFailed(error) || isConflict(error) || (current !== undefined && isNotFound(error));
      if (!raced) throw error;
    }
  }
  throw new ConditionalUpdateConflictError(options.what ?? `row ${keys.partitionKey}/${keys.rowKey}`, maxAttempts);
}
