import { odata, RestError, type TableClient, type TransactionAction } from '@azure/data-tables';
import { conditionalUpdate, readRow, type RowKeys, type StoredRow } from '../storage/conditional-update';
import { InvalidContinuationTokenError, readContinuationToken } from '../storage/continuation';
import type { Page, TableSource } from '../tracking/store';
import {
  CUSTOMER_RANGE,
  FLEET_PARTITION,
  PAST_SCAN_RANGE,
  customerFromEntity,
  customerKeys,
  customerToEntity,
  pastScanToEntity,
  scanFromEntity,
  slotFromEntity,
  slotKeys,
  slotToEntity,
  type Entity,
} from './entities';
import type { FleetCustomerRecord, FleetScanRecord, FleetState, NotEligibleReason, ScanSlot } from './records';
import type { SlotDecision } from './scan-state';
import {
  memberFromEntity,
  memberKeys,
  memberRange,
  memberToEntity,
  WAVE_RANGE,
  waveFromEntity,
  waveKeys,
  waveSlotFromEntity,
  waveSlotKeys,
  waveSlotToEntity,
  waveToEntity,
} from './wave-entities';
import { ACTIVE_WAVE_STATES, type WaveMember, type WaveRecord, type WaveSlot } from './wave-records';
import type { WaveDecision } from './wave-state';

/** Upper bound on the entities of one entity-group transaction (the service's limit). */
export const TRANSACTION_LIMIT = 100;
/** Customer rows per batch: the transaction's limit less the scan slot written with them. */
export const MAX_BATCH_ROWS = TRANSACTION_LIMIT - 1;
/** Most rows Table Storage returns in one page of a query. */
export const MAX_QUERY_PAGE = 1000;

/** Which customer rows a query reads: of one state, of one not-eligible reason, scanned at or after a time. */
export interface CustomerFilter {
  state?: FleetState;
  reason?: NotEligibleReason;
  /** ISO time: rows whose `scannedAt` is this or later (ISO times in one format compare as text). */
  scannedSince?: string;
}

function customerFilter(filter: CustomerFilter): string {
  const parts = [
    odata`PartitionKey eq ${FLEET_PARTITION} and RowKey ge ${CUSTOMER_RANGE.from} and RowKey lt ${CUSTOMER_RANGE.below}`,
  ];
  if (filter.state) parts.push(odata`state eq ${filter.state}`);
  if (filter.reason) parts.push(odata`reason eq ${filter.reason}`);
  if (filter.scannedSince) parts.push(odata`scannedAt ge ${filter.scannedSince}`);
  return parts.join(' and ');
}

/** Member rows written with a wave's record (and the wave slot) in one transaction. */
export const MAX_MEMBERS_PER_WRITE = TRANSACTION_LIMIT - 2;

/** A wave's record row as stored, with its ETag (see `FleetStore.updateWave`). */
export type StoredWave = StoredRow<Entity>;

/** Whether a customer row is of a customer the last completed scan listed (see `FleetStore.listedSince`). */
export function isListed(row: Pick<FleetCustomerRecord, 'scannedAt'>, since: string | undefined): boolean {
  return since === undefined || row.scannedAt >= since;
}

/**
 * The `Fleet` table (shared/fleet/entities.ts, wave-entities.ts): the scan slot, one row per customer, one row per
 * finished scan, and the waves (the wave slot, a record per wave, a row per member) — in one partition. Every change
 * of the scan slot or of a wave's record goes through the one conditional update with a pure decision
 * (scan-state.ts, wave-state.ts); customer rows, and the member rows a timer run writes, only ever with it, in the same
 * transaction.
 */
export class FleetStore {
  constructor(private readonly tables: TableSource) {}

  private table(): Promise<TableClient> {
    return this.tables.get('fleet');
  }

  /** The scan slot as stored; undefined before the first timer run or request. */
  async readSlot(): Promise<ScanSlot | undefined> {
    return this.read(slotKeys, slotFromEntity);
  }

  /**
   * Read → decide → conditional write of the slot (shared/storage/conditional-update.ts); the decision's customer
   * rows (upserts) and finished scan (insert) go in the same transaction. Returns the decision's result.
   */
  async updateSlot<R>(decide: (slot: ScanSlot | undefined) => SlotDecision<R>): Promise<R> {
    const client = await this.table();
    const outcome = await conditionalUpdate<Entity, R>(
      client,
      slotKeys,
      (current) => {
        const decision = decide(current ? slotFromEntity(current) : undefined);
        if (!decision.write) return { result: decision.result };
        const alongside: TransactionAction[] = (decision.customers ?? []).map((customer) => [
          'upsert',
          customerToEntity(customer),
          'Replace',
        ]);
        if (decision.archive) alongside.push(['create', pastScanToEntity(decision.archive)]);
        return { result: decision.result, write: slotToEntity(decision.write), alongside };
      },
      { what: 'the fleet scan slot' },
    );
    return outcome.result;
  }

  async readCustomer(customerId: string): Promise<FleetCustomerRecord | undefined> {
    return this.read(customerKeys(customerId), customerFromEntity);
  }

  /** The customers a scan wrote on one of its pages: one query (what a resumed page skips). */
  async customersOnPage(scanId: string, page: number): Promise<FleetCustomerRecord[]> {
    const client = await this.table();
    const filter = odata`PartitionKey eq ${FLEET_PARTITION} and RowKey ge ${CUSTOMER_RANGE.from} and RowKey lt ${CUSTOMER_RANGE.below} and scanId eq ${scanId} and scanPage eq ${page}`;
    const rows: FleetCustomerRecord[] = [];
    for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      rows.push(customerFromEntity(entity));
    }
    return rows;
  }

  /** Every customer row in customer id order, optionally filtered (one range query, paged lazily). */
  async *customers(filter: CustomerFilter = {}): AsyncGenerator<FleetCustomerRecord, void, undefined> {
    for await (const page of this.customerPages(filter)) yield* page;
  }

  /**
   * The customer rows in customer id order, a page at a time (up to `pageSize`, at most 1,000): the next page is read
   * only when the caller asks for it. Pages the service returns empty (a query that stopped at a time limit) are
   * skipped.
   */
  async *customerPages(
    filter: CustomerFilter = {},
    pageSize = MAX_QUERY_PAGE,
  ): AsyncGenerator<FleetCustomerRecord[], void, undefined> {
    const client = await this.table();
    const pages = client
      .listEntities<Record<string, unknown>>({ queryOptions: { filter: customerFilter(filter) } })
      .byPage({ maxPageSize: Math.min(pageSize, MAX_QUERY_PAGE) });
    for await (const page of pages) if (page.length > 0) yield page.map(customerFromEntity);
  }

  /**
   * One page of customer rows in customer id order, from where `continuationToken` (handed out with the page before)
   * left off; throws InvalidContinuationTokenError for a token that is not one.
   */
  async customerPage(
    filter: CustomerFilter,
    options: { pageSize: number; continuationToken?: string },
  ): Promise<Page<FleetCustomerRecord>> {
    const token = options.continuationToken;
    // The keys a token names are the service's, opaque (Azure encodes them): only its form is checked here, and the
    // query's filter keeps whatever it names inside the customer rows.
    if (token !== undefined && !readContinuationToken(token)) throw new InvalidContinuationTokenError();
    const client = await this.table();
    const pages = client
      .listEntities<Record<string, unknown>>({ queryOptions: { filter: customerFilter(filter) } })
      .byPage({ maxPageSize: Math.min(options.pageSize, MAX_QUERY_PAGE), continuationToken: token });
    try {
      // A page may be empty and still carry a token: keep reading until rows or the end.
      for await (const page of pages) {
        if (page.length === 0 && page.continuationToken) continue;
        return { items: page.map(customerFromEntity), continuationToken: page.continuationToken };
      }
      return { items: [] };
    } catch (error) {
      // The service refuses keys it did not hand out: the caller's token, not the service, is at fault.
      if (token !== undefined && error instanceof RestError && error.statusCode === 400) {
        throw new InvalidContinuationTokenError();
      }
      throw error;
    }
  }

  /** Finished scans, newest first. */
  async listPastScans(limit = 20): Promise<FleetScanRecord[]> {
    const scans: FleetScanRecord[] = [];
    for await (const scan of this.pastScans()) {
      scans.push(scan);
      if (scans.length >= limit) break;
    }
    return scans;
  }

  /** Finished scans, newest first (optionally only the one of an id), read lazily. */
  private async *pastScans(scanId?: string): AsyncGenerator<FleetScanRecord, void, undefined> {
    const client = await this.table();
    const range = odata`PartitionKey eq ${FLEET_PARTITION} and RowKey ge ${PAST_SCAN_RANGE.from} and RowKey lt ${PAST_SCAN_RANGE.below}`;
    const filter = scanId === undefined ? range : `${range} and ${odata`scanId eq ${scanId}`}`;
    for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      const scan = scanFromEntity(entity);
      if (scan) yield scan;
    }
  }

  /** A scan by its id: the one in the slot (current or last), else a finished one. */
  async findScan(scanId: string, slot?: ScanSlot): Promise<FleetScanRecord | undefined> {
    const current = (slot ?? (await this.readSlot()))?.scan;
    if (current?.scanId === scanId) return current;
    for await (const scan of this.pastScans(scanId)) return scan;
    return undefined;
  }

  /**
   * Where the rows of the customers the last completed scan listed begin (its start): a row written before it is of a
   * customer no longer listed, which every reader leaves out (`isListed`, `CustomerFilter.scannedSince`). Undefined
   * before any scan completed: then every row counts.
   */
  async listedSince(): Promise<string | undefined> {
    return (await this.lastCompletedScan())?.startedAt;
  }

  /** The newest scan that completed: the slot's when it did, else the newest completed past scan. */
  async lastCompletedScan(slot?: ScanSlot): Promise<FleetScanRecord | undefined> {
    const current = (slot ?? (await this.readSlot()))?.scan;
    if (current?.state === 'completed') return current;
    for await (const scan of this.pastScans()) if (scan.state === 'completed') return scan;
    return undefined;
  }

  // ---- Waves ----------------------------------------------------------------------------------------------------

  async readWaveSlot(): Promise<WaveSlot | undefined> {
    return this.read(waveSlotKeys, waveSlotFromEntity);
  }

  async readWave(waveId: string): Promise<WaveRecord | undefined> {
    return this.read(waveKeys(waveId), waveFromEntity);
  }

  /** One row by its keys, mapped; undefined when there is none (the one point read, `readRow`). */
  private async read<T>(keys: RowKeys, map: (e: Record<string, unknown>) => T): Promise<T | undefined> {
    const row = await readRow<Record<string, unknown>>(await this.table(), keys);
    return row && map(row);
  }

  /**
   * A new wave, if the slot is free: read → decide → conditional write of the wave slot, the wave's record created in
   * the same transaction. Of two creations at once one lands; the other decides again and gets the winner.
   */
  async claimWaveSlot<R>(
    decide: (slot: WaveSlot | undefined) => { result: R; write?: WaveSlot; create?: WaveRecord },
  ): Promise<R> {
    const client = await this.table();
    const outcome = await conditionalUpdate<Entity, R>(
      client,
      waveSlotKeys,
      (current) => {
        const decision = decide(current ? waveSlotFromEntity(current) : undefined);
        if (!decision.write) return { result: decision.result };
        const alongside: TransactionAction[] = decision.create ? [['create', waveToEntity(decision.create)]] : [];
        return { result: decision.result, write: waveSlotToEntity(decision.write), alongside };
      },
      { what: 'the wave slot' },
    );
    return outcome.result;
  }

  /**
   * Read → decide → conditional write of a wave's record; the decision's member rows (Replace) and the wave slot go
   * in the same transaction. Returns the decision's result and the record row as it then stands, with its ETag: given
   * back as `known`, the next update of the same run starts from it instead of reading the row again (a write by
   * anyone else in between fails on the ETag, and the row is read afresh). A decision that writes nothing is made on
   * `known` as given: it may be a command behind (a pause just written), which only the next write would find.
   */
  async updateWave<R>(
    waveId: string,
    decide: (wave: WaveRecord | undefined) => WaveDecision<R>,
    known?: StoredWave,
  ): Promise<{ result: R; stored: StoredWave | undefined }> {
    const client = await this.table();
    const keys = waveKeys(waveId);
    const outcome = await conditionalUpdate<Entity, R>(
      client,
      keys,
      (current) => {
        const decision = decide(current ? waveFromEntity(current) : undefined);
        if (!decision.write) return { result: decision.result };
        if ((decision.members?.length ?? 0) > MAX_MEMBERS_PER_WRITE) {
          throw new RangeError(`at most ${MAX_MEMBERS_PER_WRITE} member rows go with a wave's record`);
        }
        const alongside: TransactionAction[] = (decision.members ?? []).map((member) => [
          'upsert',
          memberToEntity(member),
          'Replace',
        ]);
        if (decision.slot) alongside.push(['upsert', waveSlotToEntity(decision.slot), 'Replace']);
        return { result: decision.result, write: waveToEntity(decision.write), alongside };
      },
      { what: `wave ${waveId}`, known },
    );
    const { row, etag } = outcome;
    return { result: outcome.result, stored: row && etag ? { ...row, ...keys, etag } : undefined };
  }

  /**
   * The member rows of a wave about to be created, before its record exists: no one reads the members of a wave id
   * no record names, so rows left by a creation that lost the slot (or died) are inert.
   */
  async insertMembers(members: readonly WaveMember[]): Promise<void> {
    const client = await this.table();
    for (let i = 0; i < members.length; i += TRANSACTION_LIMIT) {
      const batch = members.slice(i, i + TRANSACTION_LIMIT);
      await client.submitTransaction(batch.map((member) => ['upsert', memberToEntity(member), 'Replace']));
    }
  }

  /** Removes member rows no record names (a creation that lost the slot). */
  async deleteMembers(waveId: string, customerIds: readonly string[]): Promise<void> {
    const client = await this.table();
    for (let i = 0; i < customerIds.length; i += TRANSACTION_LIMIT) {
      const batch = customerIds.slice(i, i + TRANSACTION_LIMIT);
      await client.submitTransaction(batch.map((id) => ['delete', memberKeys(waveId, id)]));
    }
  }

  /** A wave's members in customer id order (one range query). */
  async *waveMembers(waveId: string): AsyncGenerator<WaveMember, void, undefined> {
    const client = await this.table();
    const range = memberRange(waveId);
    const filter = odata`PartitionKey eq ${FLEET_PARTITION} and RowKey ge ${range.from} and RowKey lt ${range.below}`;
    for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      yield memberFromEntity(entity);
    }
  }

  /** The waves not ended (running, paused or following), oldest first by id order (one range query). */
  async activeWaves(): Promise<WaveRecord[]> {
    const client = await this.table();
    const states = ACTIVE_WAVE_STATES.map((state) => odata`state eq ${state}`).join(' or ');
    const filter =
      odata`PartitionKey eq ${FLEET_PARTITION} and RowKey ge ${WAVE_RANGE.from} and RowKey lt ${WAVE_RANGE.below}` +
      ` and (${states})`;
    const waves: WaveRecord[] = [];
    for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      waves.push(waveFromEntity(entity));
    }
    return waves;
  }
}
