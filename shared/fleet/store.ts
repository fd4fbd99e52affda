import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { conditionalUpdate } from '../storage/conditional-update';
import { isNotFound } from '../storage/tables';
import type { TableSource } from '../tracking/store';
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
import type { FleetCustomerRecord, FleetScanRecord, FleetState, ScanSlot } from './records';
import type { SlotDecision } from './scan-state';

/** Upper bound on the entities of one entity-group transaction (the service's limit). */
export const TRANSACTION_LIMIT = 100;
/** Customer rows per batch: the transaction's limit less the scan slot written with them. */
export const MAX_BATCH_ROWS = TRANSACTION_LIMIT - 1;

/**
 * The `Fleet` table (shared/fleet/entities.ts): the scan slot, one row per customer, one row per finished scan — in
 * one partition. Every change of the slot goes through the one conditional update with a pure decision
 * (scan-state.ts); customer rows are only ever written with it, in the same transaction.
 */
export class FleetStore {
  constructor(private readonly tables: TableSource) {}

  private table(): Promise<TableClient> {
    return this.tables.get('fleet');
  }

  /** The scan slot as stored; undefined before the first timer run or request. */
  async readSlot(): Promise<ScanSlot | undefined> {
    const client = await this.table();
    try {
      return slotFromEntity(await client.getEntity<Record<string, unknown>>(slotKeys.partitionKey, slotKeys.rowKey));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
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
    const client = await this.table();
    const { partitionKey, rowKey } = customerKeys(customerId);
    try {
      return customerFromEntity(await client.getEntity<Record<string, unknown>>(partitionKey, rowKey));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
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

  /** Every customer row in customer id order, optionally of one state (one range query, paged lazily). */
  async *customers(options: { state?: FleetState } = {}): AsyncGenerator<FleetCustomerRecord, void, undefined> {
    const client = await this.table();
    const range = odata`PartitionKey eq ${FLEET_PARTITION} and RowKey ge ${CUSTOMER_RANGE.from} and RowKey lt ${CUSTOMER_RANGE.below}`;
    const filter = options.state ? `${range} and ${odata`state eq ${options.state}`}` : range;
    for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      yield customerFromEntity(entity);
    }
  }

  /** Finished scans, newest first. */
  async listPastScans(limit = 20): Promise<FleetScanRecord[]> {
    const client = await this.table();
    const filter = odata`PartitionKey eq ${FLEET_PARTITION} and RowKey ge ${PAST_SCAN_RANGE.from} and RowKey lt ${PAST_SCAN_RANGE.below}`;
    const scans: FleetScanRecord[] = [];
    for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      const scan = scanFromEntity(entity);
      if (scan) scans.push(scan);
      if (scans.length >= limit) break;
    }
    return scans;
  }
}
