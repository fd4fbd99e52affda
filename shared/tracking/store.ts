import { RestError, odata, type TableClient } from '@azure/data-tables';
import { isConflict, isNotFound, isPreconditionFailed } from '../storage/tables';
import type { TableKey } from '../storage/names';
import {
  type Entity,
  clip,
  historyFromEntity,
  historyToEntity,
  sameHistoryContent,
  upgradeFromEntity,
  upgradeKeys,
  upgradeToEntity,
  MAX_LABEL_CHARS,
} from './entities';
import { digestKey, encodeKey, joinKey, newestFirstKey, parseTimeKey, sequenceKey, timeKey } from './keys';
import type {
  CustomerUpgradeSummary,
  EligibilityCheckRecord,
  HistoryEntry,
  PollRunRecord,
  ScheduleRow,
  UpgradeRecord,
  UpgradeView,
} from './records';

/**
 * The tracking tables (names from shared/storage/names.ts, with the environment prefix):
 *
 * | table             | PartitionKey                 | RowKey                                        |
 * |-------------------|------------------------------|-----------------------------------------------|
 * | Upgrades          | 'u' + 2 hex of sha256(id)    | enc(upgradeId)                                |
 * | CustomerUpgrades  | enc(customerId)              | newestFirst(createdAt) ! enc(upgradeId)       |
 * | PollSchedule      | shard 's0'..'s3'             | time(nextPollAt) ! enc(upgradeId)             |
 * | UpgradeHistory    | enc(upgradeId)               | sequence (10 digits, oldest first)            |
 * | EligibilityChecks | enc(customerId)              | newestFirst(checkedAt) ! digest               |
 * | PollRuns          | 'run'                        | newestFirst(startedAt) ! enc(runId)           |
 * | RejectedMessages  | enc(queue name)              | digest(message text)                          |
 *
 * Writes are insert-only, delete, or ETag-conditional replace; a 412 re-reads and re-applies, at most
 * `MAX_WRITE_ATTEMPTS` times. A create that meets 409 reads the row back and compares.
 */

/** The part of `Tables` the store needs (tests wrap it to count reads). */
export interface TableSource {
  get(key: TableKey): Promise<TableClient>;
}

export const SCHEDULE_SHARDS = 4;
export const MAX_WRITE_ATTEMPTS = 5;
const TRANSACTION_LIMIT = 100;

export class WriteConflictError extends Error {
  constructor(what: string) {
    super(`${what}: still conflicting after ${MAX_WRITE_ATTEMPTS} attempts`);
    this.name = 'WriteConflictError';
  }
}

export class InvalidContinuationTokenError extends Error {
  constructor() {
    super('The continuation token is not valid');
    this.name = 'InvalidContinuationTokenError';
  }
}

/** FNV-1a: a stable, cheap spread of upgrade ids over the schedule shards. */
export function shardOf(upgradeId: string, shards = SCHEDULE_SHARDS): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < upgradeId.length; i++) {
    hash ^= upgradeId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `s${hash % shards}`;
}

export function scheduleRowKey(dueAt: number, upgradeId: string): string {
  return joinKey(timeKey(dueAt), encodeKey(upgradeId));
}

export interface Mutation<R> {
  /** The record to store; omit to leave the row as it is. */
  write?: UpgradeRecord;
  result: R;
}

export interface MutationOutcome<R> {
  /** The record as stored after the call (undefined when there is none). */
  record: UpgradeRecord | undefined;
  result: R;
  written: boolean;
  /** ETag of the row this call wrote (undefined when it wrote nothing). */
  etag?: string;
}

export interface Page<T> {
  items: T[];
  continuationToken?: string;
}

function scheduleEntity(row: ScheduleRow): Entity {
  return {
    partitionKey: row.shard,
    rowKey: row.rowKey,
    upgradeId: row.upgradeId,
    customerId: row.customerId,
    productFamily: row.productFamily,
    trackedAt: row.trackedAt,
    ...(row.correlationId ? { correlationId: clip(row.correlationId, MAX_LABEL_CHARS) } : {}),
    ...(row.source ? { source: clip(row.source, MAX_LABEL_CHARS) } : {}),
  };
}

function scheduleFromEntity(entity: Record<string, unknown> & { partitionKey?: string; rowKey?: string }): ScheduleRow {
  const rowKey = String(entity.rowKey);
  return {
    shard: String(entity.partitionKey),
    rowKey,
    dueAt: parseTimeKey(rowKey),
    upgradeId: String(entity.upgradeId),
    customerId: String(entity.customerId),
    productFamily: String(entity.productFamily),
    trackedAt: String(entity.trackedAt),
    correlationId: typeof entity.correlationId === 'string' ? entity.correlationId : undefined,
    source: typeof entity.source === 'string' ? entity.source : undefined,
  };
}

export class TrackingStore {
  readonly shards: readonly string[];

  constructor(
    private readonly tables: TableSource,
    shardCount = SCHEDULE_SHARDS,
  ) {
    this.shards = Array.from({ length: shardCount }, (_, i) => `s${i}`);
  }

  shardOf(upgradeId: string): string {
    return shardOf(upgradeId, this.shards.length);
  }

  // ---- Upgrades -------------------------------------------------------------------------------------------------

  async readUpgrade(upgradeId: string): Promise<{ record: UpgradeRecord; etag: string } | undefined> {
    const client = await this.tables.get('upgrades');
    try {
      const { partitionKey, rowKey } = upgradeKeys(upgradeId);
      const entity = await client.getEntity<Record<string, unknown>>(partitionKey, rowKey);
      return { record: upgradeFromEntity(entity), etag: entity.etag };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Read-modify-write of one upgrade row: `decide` sees the current record (or undefined) and says what to store.
   * A missing row is created (insert-only), an existing one replaced with its ETag; on 409/412 the row is read
   * again and `decide` runs again, at most MAX_WRITE_ATTEMPTS times. `known` (the row and ETag from a write just
   * made) saves the first read; if it is out of date the write meets a 412 and the loop reads afresh.
   */
  async mutateUpgrade<R>(
    upgradeId: string,
    decide: (current: UpgradeRecord | undefined) => Mutation<R> | Promise<Mutation<R>>,
    known?: { record: UpgradeRecord; etag: string },
  ): Promise<MutationOutcome<R>> {
    const client = await this.tables.get('upgrades');
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const current = attempt === 1 && known ? known : await this.readUpgrade(upgradeId);
      const mutation = await decide(current?.record);
      if (!mutation.write) return { record: current?.record, result: mutation.result, written: false };
      const entity = upgradeToEntity(mutation.write);
      try {
        const response = current
          ? await client.updateEntity(entity, 'Replace', { etag: current.etag })
          : await client.createEntity(entity);
        return { record: mutation.write, result: mutation.result, written: true, etag: response.etag };
      } catch (error) {
        const raced = isPreconditionFailed(error) || isConflict(error) || (current !== undefined && isNotFound(error));
        if (!raced) throw error;
      }
    }
    throw new WriteConflictError(`upgrade ${upgradeId}`);
  }

  // ---- PollSchedule ---------------------------------------------------------------------------------------------

  /**
   * Every schedule row of `shard` due at `now` or earlier, oldest first, page by page (one RowKey range query). The
   * next page is requested as soon as the current one arrives, so the poll run's workers never stand idle waiting for
   * a page while the request gate's slots go by.
   */
  async *dueRows(shard: string, now: number, signal?: AbortSignal): AsyncGenerator<ScheduleRow> {
    const client = await this.tables.get('pollSchedule');
    const upper = timeKey(now + 1);
    const pages = client
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${shard} and RowKey lt ${upper}` },
        abortSignal: signal,
      })
      .byPage({ maxPageSize: 1000 });
    let next = pages.next();
    try {
      for (;;) {
        const page = await next;
        if (page.done) return;
        next = pages.next();
        // A read-ahead nobody awaits (the run stopped early) must not fail the process as an unhandled rejection.
        next.catch(() => undefined);
        for (const entity of page.value) yield scheduleFromEntity(entity);
      }
    } finally {
      await pages.return?.(undefined).catch(() => undefined);
    }
  }

  /** Inserts a schedule row; one already there (same key = same upgrade and time) is success. */
  async insertScheduleRow(row: ScheduleRow): Promise<void> {
    const client = await this.tables.get('pollSchedule');
    try {
      await client.createEntity(scheduleEntity(row));
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }

  /** Deletes a schedule row; one already gone is success (schedule rows never change, so no ETag is needed). */
  async deleteScheduleRow(shard: string, rowKey: string): Promise<void> {
    const client = await this.tables.get('pollSchedule');
    try {
      await client.deleteEntity(shard, rowKey);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Moves an upgrade in the schedule: delete + insert in one transaction (same shard), each step idempotent. */
  async moveScheduleRow(from: ScheduleRow, toRowKey: string): Promise<void> {
    if (from.rowKey === toRowKey) return;
    const to: ScheduleRow = { ...from, rowKey: toRowKey, dueAt: parseTimeKey(toRowKey) };
    const client = await this.tables.get('pollSchedule');
    try {
      await client.submitTransaction([
        ['delete', { partitionKey: from.shard, rowKey: from.rowKey }],
        ['create', scheduleEntity(to)],
      ]);
    } catch (error) {
      // A racing run already did part of it (row gone, or target there): finish each step on its own.
      if (!(error instanceof RestError) || (error.statusCode !== 404 && error.statusCode !== 409)) throw error;
      await this.insertScheduleRow(to);
      await this.deleteScheduleRow(from.shard, from.rowKey);
    }
  }

  /** Bulk insert of schedule rows, chunked by partition and by 100 (for seeding and tests). */
  async insertScheduleRows(rows: ScheduleRow[], parallel = 1): Promise<void> {
    const client = await this.tables.get('pollSchedule');
    await submitChunked(
      client,
      rows.map((row) => scheduleEntity(row)),
      parallel,
    );
  }

  // ---- UpgradeHistory -------------------------------------------------------------------------------------------

  /**
   * Writes history row `entry.sequence`, before the upgrade row commits it (historySeq). A row already there with
   * the same content is a retry of ours; one with other content and a sequence not yet committed is a leftover of
   * a crashed poll and is replaced (ETag-conditional).
   */
  async writeHistory(upgradeId: string, entry: HistoryEntry, committedSeq: number): Promise<void> {
    const client = await this.tables.get('upgradeHistory');
    const entity = historyToEntity(encodeKey(upgradeId), sequenceKey(entry.sequence), entry);
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      try {
        await client.createEntity(entity);
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
      let existing: Record<string, unknown> & { etag: string };
      try {
        existing = await client.getEntity<Record<string, unknown>>(entity.partitionKey, entity.rowKey);
      } catch (error) {
        if (isNotFound(error)) continue;
        throw error;
      }
      if (sameHistoryContent(existing, entity)) return;
      if (entry.sequence <= committedSeq) throw new WriteConflictError(`history ${upgradeId}#${entry.sequence}`);
      try {
        await client.updateEntity(entity, 'Replace', { etag: existing.etag });
        return;
      } catch (error) {
        if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
      }
    }
    throw new WriteConflictError(`history ${upgradeId}#${entry.sequence}`);
  }

  /** History of one upgrade, oldest first, only the committed rows. */
  async listHistory(upgradeId: string, committedSeq: number): Promise<HistoryEntry[]> {
    const client = await this.tables.get('upgradeHistory');
    const entries: HistoryEntry[] = [];
    const filter = odata`PartitionKey eq ${encodeKey(upgradeId)} and RowKey le ${sequenceKey(committedSeq)}`;
    for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      entries.push(historyFromEntity(entity));
    }
    return entries;
  }

  // ---- CustomerUpgrades -----------------------------------------------------------------------------------------

  private customerIndexEntity(record: Pick<UpgradeRecord, 'customerId' | 'upgradeId' | 'createdAt' | 'productFamily'>) {
    return {
      partitionKey: encodeKey(record.customerId),
      rowKey: joinKey(newestFirstKey(Date.parse(record.createdAt)), encodeKey(record.upgradeId)),
      upgradeId: record.upgradeId,
      productFamily: record.productFamily,
      createdAt: record.createdAt,
    };
  }

  /** Insert-only; the key derives from the upgrade row's createdAt, so a replay writes the same row. */
  async ensureCustomerIndex(record: UpgradeRecord): Promise<void> {
    const client = await this.tables.get('customerUpgrades');
    try {
      await client.createEntity(this.customerIndexEntity(record));
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }

  async listCustomerUpgrades(
    customerId: string,
    options: { pageSize?: number; continuationToken?: string } = {},
  ): Promise<Page<CustomerUpgradeSummary>> {
    const pageSize = Math.min(Math.max(Math.floor(options.pageSize ?? 50), 1), 1000);
    const token = options.continuationToken;
    if (token !== undefined && !isContinuationToken(token)) throw new InvalidContinuationTokenError();
    const client = await this.tables.get('customerUpgrades');
    const pages = client
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${encodeKey(customerId)}` },
      })
      .byPage({ maxPageSize: pageSize, continuationToken: token });
    // A page may be empty and still carry a token: keep reading until rows or the end.
    for await (const page of pages) {
      if (page.length === 0 && page.continuationToken) continue;
      const records = await Promise.all(page.map((entity) => this.readUpgrade(String(entity.upgradeId))));
      const items = records
        .filter((found): found is NonNullable<typeof found> => found !== undefined)
        .map(({ record }) => ({
          upgradeId: record.upgradeId,
          customerId: record.customerId,
          productFamily: record.productFamily,
          status: record.status,
          rawStatus: record.rawStatus,
          createdAt: record.createdAt,
          updatedAt: record.updatedAt,
          completedAt: record.completedAt,
        }));
      return { items, continuationToken: page.continuationToken };
    }
    return { items: [] };
  }

  async getUpgrade(upgradeId: string): Promise<UpgradeView | undefined> {
    const found = await this.readUpgrade(upgradeId);
    if (!found) return undefined;
    const history = await this.listHistory(upgradeId, found.record.historySeq);
    return { ...found.record, history };
  }

  // ---- EligibilityChecks ----------------------------------------------------------------------------------------

  async recordEligibilityCheck(check: EligibilityCheckRecord): Promise<void> {
    const client = await this.tables.get('eligibilityChecks');
    const content = JSON.stringify(check);
    const entity: Entity = {
      partitionKey: encodeKey(check.customerId),
      rowKey: joinKey(newestFirstKey(Date.parse(check.checkedAt)), digestKey(content, 16)),
      productFamily: check.productFamily,
      isEligible: check.isEligible,
      checkedAt: check.checkedAt,
      ...(check.reason ? { reason: clip(check.reason, 4000) } : {}),
      ...(check.upgradeId ? { upgradeId: check.upgradeId } : {}),
      ...(check.correlationId ? { correlationId: clip(check.correlationId, MAX_LABEL_CHARS) } : {}),
    };
    try {
      await client.createEntity(entity);
    } catch (error) {
      if (!isConflict(error)) throw error; // same content at the same time: a retry of this write
    }
  }

  async listEligibilityChecks(customerId: string, limit = 20): Promise<EligibilityCheckRecord[]> {
    const client = await this.tables.get('eligibilityChecks');
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

  // ---- RejectedMessages -----------------------------------------------------------------------------------------

  /** Records a message that will not be processed; the same text twice is one row. */
  async recordRejectedMessage(rejection: {
    queue: string;
    kind: 'invalid' | 'conflict' | 'poison';
    reason: string;
    message: string;
    receivedAt: string;
  }): Promise<void> {
    const client = await this.tables.get('rejectedMessages');
    try {
      await client.createEntity({
        partitionKey: encodeKey(rejection.queue),
        rowKey: digestKey(`${rejection.kind}\n${rejection.message}`, 64),
        kind: rejection.kind,
        reason: clip(rejection.reason, 1000),
        message: clip(rejection.message, 30_000),
        receivedAt: rejection.receivedAt,
      });
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }

  async listRejectedMessages(
    queue: string,
  ): Promise<{ kind: string; reason: string; message: string; receivedAt: string }[]> {
    const client = await this.tables.get('rejectedMessages');
    const rows = [];
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

  // ---- PollRuns -------------------------------------------------------------------------------------------------

  private pollRunKey(run: PollRunRecord) {
    return { partitionKey: 'run', rowKey: joinKey(newestFirstKey(Date.parse(run.startedAt)), encodeKey(run.runId)) };
  }

  /** The heartbeat row, written when a run starts; returns its ETag for `finishPollRun`. */
  async startPollRun(run: PollRunRecord): Promise<string> {
    const client = await this.tables.get('pollRuns');
    const response = await client.createEntity({ ...this.pollRunKey(run), ...runFields(run) });
    return response.etag ?? '*';
  }

  async finishPollRun(run: PollRunRecord, etag: string): Promise<void> {
    const client = await this.tables.get('pollRuns');
    await client.updateEntity({ ...this.pollRunKey(run), ...runFields(run) }, 'Replace', { etag });
  }

  async latestPollRuns(limit = 1): Promise<PollRunRecord[]> {
    const client = await this.tables.get('pollRuns');
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
}

function runFields(run: PollRunRecord): Record<string, unknown> {
  return Object.fromEntries(Object.entries(run).filter(([, v]) => v !== undefined));
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

/** The SDK's continuation token is base64 JSON naming the next keys; anything else is refused before the call. */
function isContinuationToken(token: string): boolean {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && 'nextPartitionKey' in parsed;
  } catch {
    return false;
  }
}

/**
 * Submits entity creations as transactions: grouped by partition, at most 100 per transaction, up to `parallel`
 * transactions in flight (they touch different partitions or follow each other within one).
 */
export async function submitChunked(client: TableClient, entities: Entity[], parallel = 1): Promise<void> {
  const byPartition = new Map<string, Entity[]>();
  for (const entity of entities) {
    const group = byPartition.get(entity.partitionKey) ?? [];
    group.push(entity);
    byPartition.set(entity.partitionKey, group);
  }
  const batches: Entity[][] = [];
  for (const group of byPartition.values()) {
    for (let i = 0; i < group.length; i += TRANSACTION_LIMIT) batches.push(group.slice(i, i + TRANSACTION_LIMIT));
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, parallel) }, async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        await client.submitTransaction(batch.map((entity) => ['create', entity]));
      }
    }),
  );
}
