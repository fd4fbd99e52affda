import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { conditionalUpdate } from '../storage/conditional-update';
import { InvalidContinuationTokenError, readContinuationToken } from '../storage/continuation';
import { leaseFields, type Lease } from '../storage/lease';
import { dropUndefined } from '../json';
import type { TableKey } from '../storage/names';
import { createIfAbsent, isConflict, isNotFound, isPreconditionFailed } from '../storage/tables';
import {
  type Entity,
  acceptedFromEntity,
  acceptedRange,
  acceptedRowKey,
  acceptedToEntity,
  clip,
  dueRange,
  historyFromEntity,
  historyRange,
  historyToEntity,
  scheduleFromEntity,
  scheduleRowKey,
  scheduleToEntity,
  shardOf,
  SHARDS,
  upgradeChangesToEntity,
  upgradeFromEntity,
  upgradeKeys,
  upgradeToEntity,
  MAX_LABEL_CHARS,
  UPGRADE_RANGE,
} from './entities';
import { digestKey, encodeKey, joinKey, newestFirstKey } from './keys';
import type {
  AcceptedEntry,
  CustomerUpgradeSummary,
  EligibilityCheckRecord,
  HistoryEntry,
  PollRunRecord,
  PollState,
  ScheduleEntry,
  UpgradeRecord,
  UpgradeView,
} from './records';
import type { UpgradeStatus } from './state';

/**
 * The tracking tables (names from shared/storage/names.ts, with the environment prefix):
 *
 * | table             | PartitionKey                 | RowKey                                        |
 * |-------------------|------------------------------|-----------------------------------------------|
 * | Tracking          | shard 's0'..'s3' of the id   | 'u!' id, 'h!' id ! seq, 't!' time ! id, 'a!' time ! id |
 * | CustomerUpgrades  | enc(customerId)              | newestFirst(createdAt) ! enc(upgradeId)       |
 * | EligibilityChecks | enc(customerId)              | newestFirst(checkedAt) ! digest               |
 * | PollRuns          | 'run'                        | newestFirst(startedAt) ! enc(runId)           |
 * | RejectedMessages  | enc(queue name)              | digest(message text)                          |
 *
 * An upgrade's rows share one partition, so each step of its tracking is one entity-group transaction: accepting it
 * (upgrade row + accepted row), starting its tracking (upgrade row + first schedule row − accepted row), and every
 * poll (schedule row moved, upgrade row merged, history row added). The other tables' rows are insert-only, but for
 * the PollRuns heartbeat (insert, then ETag replace).
 */

/** The part of `Tables` the store needs (tests wrap it to count reads). */
export interface TableSource {
  get(key: TableKey): Promise<TableClient>;
}

export { SCHEDULE_SHARDS, scheduleRowKey, shardOf } from './entities';

export { InvalidContinuationTokenError };

export interface Page<T> {
  items: T[];
  continuationToken?: string;
}

/**
 * What startTracking decided about an upgrade row (`decide` sees the row as stored, or undefined): leave it, or
 * `start` it — write this record (insert, or replace conditional on the row read), insert its first schedule row
 * (due at `dueAt`) and delete its accepted row, all in one transaction.
 */
export type TrackingStart<R> = { result: R } | { result: R; start: UpgradeRecord; dueAt: number };

/** Where a poll leaves the upgrade's schedule row. */
export type ScheduleMove =
  /** Due again at `dueAt`, with this state: the row is replaced by a new one. */
  | { kind: 'move'; dueAt: number; state: PollState }
  /** Due again now, with this state (e.g. a notification still to send): the row stays, its lease dropped. */
  | { kind: 'keep'; state: PollState }
  /** Out of the schedule: the row is deleted. */
  | { kind: 'leave' };

/** The writes of one poll: one transaction in the upgrade's partition. */
export interface PollCommit {
  upgradeId: string;
  /** The upgrade row's fields that change (merged: the rest stays as it is). */
  upgrade: Partial<UpgradeRecord>;
  history?: HistoryEntry;
  schedule: ScheduleMove;
}

export class TrackingStore {
  readonly shards: readonly string[] = SHARDS;

  constructor(private readonly tables: TableSource) {}

  shardOf(upgradeId: string): string {
    return shardOf(upgradeId);
  }

  private table(): Promise<TableClient> {
    return this.tables.get('tracking');
  }

  // ---- Upgrade rows ---------------------------------------------------------------------------------------------

  async readUpgrade(upgradeId: string): Promise<{ record: UpgradeRecord; etag: string } | undefined> {
    const client = await this.table();
    try {
      const { partitionKey, rowKey } = upgradeKeys(upgradeId);
      const entity = await client.getEntity<Record<string, unknown>>(partitionKey, rowKey);
      return { record: upgradeFromEntity(entity), etag: entity.etag };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async getUpgrade(upgradeId: string): Promise<UpgradeView | undefined> {
    const found = await this.readUpgrade(upgradeId);
    if (!found) return undefined;
    const history = await this.listHistory(upgradeId, found.record.historySeq);
    return { ...found.record, history };
  }

  /**
   * How many upgrades are in each status: one query per shard over the upgrade rows, reading their status only (for
   * the fleet summary; it reads one small property per upgrade recorded).
   */
  async countUpgradesByStatus(): Promise<Partial<Record<UpgradeStatus, number>>> {
    const client = await this.table();
    const counts: Partial<Record<UpgradeStatus, number>> = {};
    await Promise.all(
      SHARDS.map(async (shard) => {
        const filter = odata`PartitionKey eq ${shard} and RowKey ge ${UPGRADE_RANGE.from} and RowKey lt ${UPGRADE_RANGE.below}`;
        const rows = client.listEntities<{ status?: unknown }>({ queryOptions: { filter, select: ['status'] } });
        for await (const row of rows) {
          const status = String(row.status) as UpgradeStatus;
          counts[status] = (counts[status] ?? 0) + 1;
        }
      }),
    );
    return counts;
  }

  /** History of one upgrade, oldest first: rows 1..`committedSeq` (no query when there are none). */
  async listHistory(upgradeId: string, committedSeq: number): Promise<HistoryEntry[]> {
    if (committedSeq < 1) return [];
    const client = await this.table();
    const range = historyRange(upgradeId, committedSeq);
    const filter = odata`PartitionKey eq ${range.partitionKey} and RowKey gt ${range.after} and RowKey le ${range.upTo}`;
    const entries: HistoryEntry[] = [];
    for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      entries.push(historyFromEntity(entity));
    }
    return entries;
  }

  /**
   * Records an accepted upgrade: its upgrade row and its accepted row (the tracking message to re-send until
   * startTracking has run; keyed by the record's createdAt), in one transaction. False when the upgrade row is
   * already there (accepted before).
   */
  async insertAccepted(record: UpgradeRecord): Promise<boolean> {
    const client = await this.table();
    try {
      await client.submitTransaction([
        ['create', upgradeToEntity(record)],
        ['create', acceptedToEntity(record)],
      ]);
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  /**
   * startTracking's read → decide → write of an upgrade row (shared/storage/conditional-update.ts): on a conflict
   * the row is read again and `decide` runs again. Returns the decision's result.
   */
  async scheduleFirstPoll<R>(upgradeId: string, decide: (current: UpgradeRecord | undefined) => TrackingStart<R>) {
    const client = await this.table();
    const outcome = await conditionalUpdate<Entity, R>(
      client,
      upgradeKeys(upgradeId),
      (current) => {
        const found = current ? upgradeFromEntity(current) : undefined;
        const decision = decide(found);
        if (!('start' in decision)) return { result: decision.result };
        const { start, dueAt } = decision;
        const alongside: TransactionAction[] = [['create', scheduleToEntity(start, dueAt)]];
        if (found && !found.trackingStartedAt) {
          alongside.push(['delete', { partitionKey: shardOf(upgradeId), rowKey: acceptedRowKey(found) }]);
        }
        return { result: decision.result, write: upgradeToEntity(start), alongside };
      },
      { what: `upgrade ${upgradeId}` },
    );
    return outcome.result;
  }

  // ---- Poll schedule --------------------------------------------------------------------------------------------

  /**
   * The rows of one kind in `shard` within a RowKey range, oldest first, page by page (one range query). The next page
   * is requested as soon as the current one arrives, so the poll run's workers never stand idle waiting for a page
   * while the request gate's slots go by.
   */
  private async *range(
    shard: string,
    range: { from: string; below: string },
    signal?: AbortSignal,
  ): AsyncGenerator<Record<string, unknown> & { etag: string }> {
    const client = await this.table();
    const pages = client
      .listEntities<Record<string, unknown>>({
        queryOptions: {
          filter: odata`PartitionKey eq ${shard} and RowKey ge ${range.from} and RowKey lt ${range.below}`,
        },
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
        for (const entity of page.value) yield entity;
      }
    } finally {
      await pages.return?.(undefined).catch(() => undefined);
    }
  }

  /** Every schedule row of `shard` due at `now` or earlier, oldest first (one RowKey range query). */
  async *dueEntries(shard: string, now: number, signal?: AbortSignal): AsyncGenerator<ScheduleEntry> {
    for await (const entity of this.range(shard, dueRange(now), signal)) yield scheduleFromEntity(entity);
  }

  /**
   * Claims a schedule row for one poll: merges the lease onto it, conditional on the ETag the due query returned.
   * Returns the row's new ETag, or undefined when another run got there first (it claimed or committed the row).
   */
  async claim(entry: ScheduleEntry, lease: Lease): Promise<string | undefined> {
    const client = await this.table();
    try {
      const response = await client.updateEntity(
        { partitionKey: entry.shard, rowKey: entry.rowKey, ...leaseFields(lease) },
        'Merge',
        { etag: entry.etag },
      );
      return response.etag ?? '*';
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * The writes of one claimed poll, as one transaction: the schedule row moved, kept or deleted, the upgrade row
   * merged, a history row added. The schedule row's presence (and, when kept, its ETag from the claim) guards it all:
   * it is deleted or replaced by every commit, so of two runs that polled the same row only the first commit lands.
   * Returns false when another run committed first.
   */
  async commitPoll(entry: ScheduleEntry, claimEtag: string, commit: PollCommit): Promise<boolean> {
    const client = await this.table();
    const current = { partitionKey: entry.shard, rowKey: entry.rowKey };
    let schedule = commit.schedule;
    if (schedule.kind === 'move' && scheduleRowKey(schedule.dueAt, commit.upgradeId) === entry.rowKey) {
      schedule = { kind: 'keep', state: schedule.state };
    }
    const actions: TransactionAction[] = [];
    switch (schedule.kind) {
      case 'move':
        actions.push(['delete', current], ['create', scheduleToEntity(schedule.state, schedule.dueAt)]);
        break;
      case 'keep':
        actions.push(['update', scheduleToEntity(schedule.state, entry.dueAt), 'Replace', { etag: claimEtag }]);
        break;
      case 'leave':
        actions.push(['delete', current]);
        break;
    }
    actions.push(['update', upgradeChangesToEntity(commit.upgradeId, commit.upgrade), 'Merge']);
    if (commit.history) actions.push(['create', historyToEntity(commit.upgradeId, commit.history)]);
    try {
      await client.submitTransaction(actions);
      return true;
    } catch (error) {
      if (isNotFound(error) || isPreconditionFailed(error) || isConflict(error)) return false;
      throw error;
    }
  }

  // ---- Accepted rows (tracking not started yet) ------------------------------------------------------------------

  /** Accepted rows of `shard` accepted at `before` or earlier, oldest first (one RowKey range query). */
  async *acceptedEntries(shard: string, before: number, signal?: AbortSignal): AsyncGenerator<AcceptedEntry> {
    for await (const entity of this.range(shard, acceptedRange(before), signal)) yield acceptedFromEntity(entity);
  }

  /**
   * Records a re-send of an accepted row's tracking message (conditional on the ETag read). False when the row
   * changed meanwhile: another run re-sent it, or startTracking has run and deleted it.
   */
  async recordResend(entry: AcceptedEntry, resendAfter: number): Promise<boolean> {
    const client = await this.table();
    try {
      await client.updateEntity(
        { partitionKey: entry.shard, rowKey: entry.rowKey, resends: entry.resends + 1, resendAfter },
        'Merge',
        { etag: entry.etag },
      );
      return true;
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return false;
      throw error;
    }
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
    await createIfAbsent(await this.tables.get('customerUpgrades'), this.customerIndexEntity(record));
  }

  async listCustomerUpgrades(
    customerId: string,
    options: { pageSize?: number; continuationToken?: string } = {},
  ): Promise<Page<CustomerUpgradeSummary>> {
    const pageSize = Math.min(Math.max(Math.floor(options.pageSize ?? 50), 1), 1000);
    const token = options.continuationToken;
    if (token !== undefined && !readContinuationToken(token)) throw new InvalidContinuationTokenError();
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

  // ---- EligibilityChecks ----------------------------------------------------------------------------------------

  /** Insert-only: the same check (same content at the same time) twice is one row. */
  async recordEligibilityCheck(check: EligibilityCheckRecord): Promise<void> {
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
    await createIfAbsent(await this.tables.get('eligibilityChecks'), entity);
  }

  // ---- RejectedMessages -----------------------------------------------------------------------------------------

  /** Records a message that will not be processed; the same text twice is one row. */
  async recordRejectedMessage(rejection: {
    queue: string;
    kind: 'invalid' | 'conflict' | 'unverified' | 'poison';
    reason: string;
    message: string;
    receivedAt: string;
  }): Promise<void> {
    await createIfAbsent(await this.tables.get('rejectedMessages'), {
      partitionKey: encodeKey(rejection.queue),
      rowKey: digestKey(`${rejection.kind}\n${rejection.message}`, 64),
      kind: rejection.kind,
      reason: clip(rejection.reason, 1000),
      message: clip(rejection.message, 30_000),
      receivedAt: rejection.receivedAt,
    });
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
}

function runFields(run: PollRunRecord): Record<string, unknown> {
  return dropUndefined<unknown>({ ...run });
}
