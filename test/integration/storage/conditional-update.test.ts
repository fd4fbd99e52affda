import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import {
  ConditionalUpdateConflictError,
  conditionalUpdate,
  readRow,
  type StoredRow,
} from '../../../shared/storage/conditional-update';
import { Tables } from '../../../shared/storage/tables';

const connectionString = process.env.AzureWebJobsStorage ?? '';
const tables = new Tables({ storage: { kind: 'connectionString', connectionString }, tableNamePrefix: 'cond' });

interface Counter {
  count: number;
}

let table: TableClient;
beforeAll(async () => {
  table = await tables.get('tracking');
});

const keys = () => ({ partitionKey: 'p', rowKey: randomUUID() });

describe('conditionalUpdate on real Table Storage (Azurite)', () => {
  it('inserts a missing row, then replaces it with its ETag', async () => {
    const key = keys();
    const first = await conditionalUpdate<Counter, number>(table, key, (current) => ({
      result: current?.count ?? 0,
      write: { count: (current?.count ?? 0) + 1 },
    }));
    expect(first).toMatchObject({ result: 0, changed: true, row: { count: 1 } });
    const second = await conditionalUpdate<Counter, number>(table, key, (current) => ({
      result: current?.count ?? 0,
      write: { count: (current?.count ?? 0) + 1 },
    }));
    expect(second.result).toBe(1);
    expect((await readRow<Counter>(table, key))?.count).toBe(2);
  });

  it('makes concurrent increments add up: each conflict re-reads and decides again', async () => {
    const key = keys();
    await table.createEntity({ ...key, count: 0 });
    const increments = 4;
    await Promise.all(
      Array.from({ length: increments }, () =>
        conditionalUpdate<Counter, void>(
          table,
          key,
          (current) => ({ result: undefined, write: { count: Number(current?.count ?? 0) + 1 } }),
          { maxAttempts: increments + 1 },
        ),
      ),
    );
    expect((await readRow<Counter>(table, key))?.count).toBe(increments);
  });

  it('re-reads when the row it was told about is out of date, and writes nothing when the decision says so', async () => {
    const key = keys();
    await table.createEntity({ ...key, count: 1 });
    const stale = (await readRow<Counter>(table, key))!;
    await table.updateEntity({ ...key, count: 5 }, 'Replace', { etag: stale.etag });
    const seen: number[] = [];
    const outcome = await conditionalUpdate<Counter, string>(
      table,
      key,
      (current) => {
        seen.push(Number(current?.count));
        return Number(current?.count) >= 5 ? { result: 'enough' } : { result: 'bumped', write: { count: 5 } };
      },
      { known: stale },
    );
    // The first decision saw the stale row and chose to write; its 412 made the second one see the real row.
    expect(seen).toEqual([1, 5]);
    expect(outcome).toMatchObject({ result: 'enough', changed: false });
  });

  it('writes alongside rows in one transaction: all land, or none and it decides again', async () => {
    const key = keys();
    const other = (count: number) => ({ partitionKey: key.partitionKey, rowKey: `${key.rowKey}-${count}` });
    await table.createEntity({ ...key, count: 0 });
    const stale = (await readRow<Counter>(table, key))!;
    await table.updateEntity({ ...key, count: 1 }, 'Replace', { etag: stale.etag });
    const seen: number[] = [];
    const outcome = await conditionalUpdate<Counter, void>(
      table,
      key,
      (current) => {
        seen.push(Number(current?.count));
        const count = Number(current?.count) + 1;
        return { result: undefined, write: { count }, alongside: [['create', { ...other(count), count }]] };
      },
      { known: stale },
    );
    // The stale decision's transaction failed as a whole (412 on the row): its alongside row was not written.
    expect(seen).toEqual([0, 1]);
    expect(outcome).toMatchObject({ changed: true, row: { count: 2 } });
    expect(outcome.etag).toBe((await readRow<Counter>(table, key))?.etag);
    expect(await readRow(table, other(1))).toBeUndefined();
    expect((await readRow<Counter>(table, other(2)))?.count).toBe(2);
  });

  it('deletes only the row it decided on', async () => {
    const key = keys();
    await table.createEntity({ ...key, count: 1 });
    const outcome = await conditionalUpdate<Counter, void>(table, key, () => ({ result: undefined, delete: true }));
    expect(outcome.changed).toBe(true);
    expect(await readRow(table, key)).toBeUndefined();
  });

  it('gives up with a named error when another writer wins every round', async () => {
    const key = keys();
    await table.createEntity({ ...key, count: 0 });
    // A real concurrent writer: just before each of our writes, someone else changes the row, so the service
    // answers 412 every time.
    const interfering = new Proxy(table, {
      get(target, property, receiver) {
        if (property !== 'updateEntity') return Reflect.get(target, property, receiver) as unknown;
        return async (...args: Parameters<TableClient['updateEntity']>) => {
          const latest = (await readRow<Counter>(target, key))!;
          await target.updateEntity({ ...key, count: Number(latest.count) + 100 }, 'Replace', { etag: latest.etag });
          return target.updateEntity(...args);
        };
      },
    });
    let rounds = 0;
    await expect(
      conditionalUpdate<Counter, void>(
        interfering,
        key,
        (current: StoredRow<Counter> | undefined) => {
          rounds += 1;
          return { result: undefined, write: { count: Number(current?.count) + 1 } };
        },
        { maxAttempts: 3, what: 'test row' },
      ),
    ).rejects.toThrow(new ConditionalUpdateConflictError('test row', 3));
    expect(rounds).toBe(3);
    expect((await readRow<Counter>(table, key))?.count).toBe(300);
  });
});
