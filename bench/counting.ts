import type { PipelinePolicy, PipelineRequest } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';
import type { AppConfig } from '../shared/config';
import type { TableKey } from '../shared/storage/names';
import { Tables } from '../shared/storage/tables';

/** Kinds of Table Storage request, as the service bills them (a batch is one request). */
export type TableOpKind = 'read' | 'query' | 'insert' | 'update' | 'delete' | 'batch' | 'createTable';

export type TableOpCounts = Record<TableOpKind, number> & { total: number; byTable: Record<string, number> };

export function emptyCounts(): TableOpCounts {
  return { read: 0, query: 0, insert: 0, update: 0, delete: 0, batch: 0, createTable: 0, total: 0, byTable: {} };
}

export function classify(request: PipelineRequest): { kind: TableOpKind; table: string } {
  const url = new URL(request.url);
  const path = decodeURIComponent(url.pathname);
  const segment = path.split('/').filter(Boolean).pop() ?? '';
  const table = segment.replace(/\(.*$/, '');
  if (segment === '$batch') return { kind: 'batch', table: '$batch' };
  if (segment === 'Tables' || segment.startsWith('Tables(')) return { kind: 'createTable', table: 'Tables' };
  const hasKeys = segment.includes('(PartitionKey=');
  switch (request.method) {
    case 'GET':
      return { kind: hasKeys ? 'read' : 'query', table };
    case 'POST':
      return { kind: 'insert', table };
    case 'DELETE':
      return { kind: 'delete', table };
    default:
      return { kind: 'update', table }; // PUT (replace/upsert) and MERGE
  }
}

/**
 * Counts every HTTP request the app's table clients send: a pipeline policy on the SDK client itself, so what is
 * counted is exactly what goes on the wire (retries included), whichever store method sent it.
 */
export class TableOpCounter {
  counts = emptyCounts();

  readonly policy: PipelinePolicy = {
    name: 'benchTableOpCounter',
    sendRequest: (request, next) => {
      const { kind, table } = classify(request);
      this.counts[kind]++;
      this.counts.total++;
      this.counts.byTable[table] = (this.counts.byTable[table] ?? 0) + 1;
      return next(request);
    },
  };

  reset(): void {
    this.counts = emptyCounts();
  }

  snapshot(): TableOpCounts {
    return { ...this.counts, byTable: { ...this.counts.byTable } };
  }
}

/** The app's `Tables`, with the counter installed on every client it hands out. */
export class CountingTables extends Tables {
  private readonly instrumented = new WeakSet<TableClient>();

  constructor(
    config: Pick<AppConfig, 'storage' | 'tableNamePrefix'>,
    private readonly counter: TableOpCounter,
  ) {
    super(config);
  }

  override client(key: TableKey): TableClient {
    const client = super.client(key);
    if (!this.instrumented.has(client)) {
      client.pipeline.addPolicy(this.counter.policy);
      this.instrumented.add(client);
    }
    return client;
  }
}
