import { odata } from '@azure/data-tables';
import { encodeKey } from '../../shared/tracking/keys';
import type { EligibilityCheckRecord, PollRunRecord } from '../../shared/tracking/records';
import type { TableSource } from '../../shared/tracking/store';

/**
 * Reads back, for tests, the rows the app only writes (the store's header comment lists the tables and their keys):
 * eligibility checks, rejected messages, poll runs. The app never reads these tables, so their readers live here.
 */

/** A customer's recorded eligibility checks, newest first. */
export async function listEligibilityChecks(
  tables: TableSource,
  customerId: string,
  limit = 20,
): Promise<EligibilityCheckRecord[]> {
  const client = await tables.get('eligibilityChecks');
  const checks: EligibilityCheckRecord[] = [];
  const filter = odata`PartitionKey eq ${encodeKey(customerId)}`;
  for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
    checks.push({
      customerId,
      productFamily: String(entity.productFamily),
      isEligible: entity.isEligible === true,
      checkedAt: String(entity.checkedAt),
      reason: typeof entity.reason === 'string' ? entity.reason : undefined,
      upgradeId: typeof entity.upgradeId === 'string' ? entity.upgradeId : undefined,
      correlationId: typeof entity.correlationId === 'string' ? entity.correlationId : undefined,
    });
    if (checks.length >= limit) break;
  }
  return checks;
}

export interface RejectedMessageRow {
  kind: string;
  reason: string;
  message: string;
  receivedAt: string;
}

/** The messages recorded as rejected (invalid, conflict, poison) for one queue. */
export async function listRejectedMessages(tables: TableSource, queue: string): Promise<RejectedMessageRow[]> {
  const client = await tables.get('rejectedMessages');
  const rows: RejectedMessageRow[] = [];
  const filter = odata`PartitionKey eq ${encodeKey(queue)}`;
  for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
    rows.push({
      kind: String(entity.kind),
      reason: String(entity.reason),
      message: String(entity.message),
      receivedAt: String(entity.receivedAt),
    });
  }
  return rows;
}

/** The newest poll runs' heartbeat rows, newest first. */
export async function latestPollRuns(tables: TableSource, limit = 1): Promise<PollRunRecord[]> {
  const client = await tables.get('pollRuns');
  const runs: PollRunRecord[] = [];
  const pages = client
    .listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${'run'}` } })
    .byPage({ maxPageSize: limit });
  for await (const page of pages) {
    for (const entity of page) {
      if (runs.length < limit) runs.push(runFromEntity(entity));
    }
    if (runs.length >= limit) break;
  }
  return runs;
}

function runFromEntity(entity: Record<string, unknown>): PollRunRecord {
  const n = (key: string) => Number(entity[key] ?? 0);
  return {
    runId: String(entity.runId),
    startedAt: String(entity.startedAt),
    finishedAt: typeof entity.finishedAt === 'string' ? entity.finishedAt : undefined,
    due: n('due'),
    polled: n('polled'),
    changed: n('changed'),
    throttled: n('throttled'),
    errors: n('errors'),
    completed: n('completed'),
    stale: n('stale'),
    notified: n('notified'),
    skipped: n('skipped'),
    recovered: n('recovered'),
    stoppedBy: typeof entity.stoppedBy === 'string' ? entity.stoppedBy : undefined,
  };
}
