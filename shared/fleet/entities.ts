import { dropUndefined } from '../json';
import type { TableEntity } from '@azure/data-tables';
import { parsePageCursor } from '../partner-center/links';
import { leaseFields, leaseOf } from '../storage/lease';
import { clip, MAX_ERROR_CHARS, MAX_LABEL_CHARS } from '../tracking/entities';
import { encodeKey, joinKey, newestFirstKey } from '../tracking/keys';
import {
  emptyCounts,
  type AgreementFact,
  type AzurePlanSubscription,
  type EligibilityFact,
  type FleetCustomerRecord,
  type FleetScanRecord,
  type FleetState,
  type LegacySubscription,
  type NotEligibleReason,
  type ScanCounts,
  type ScanSlot,
  type ScanState,
  type ScanTrigger,
  type UsageTriage,
} from './records';

/**
 * The `Fleet` table: one partition, so a batch of customer rows and the scan row that counts them are written in one
 * entity-group transaction (the scan's progress and its rows never disagree, whatever crashes):
 *
 * | row           | RowKey                                        |
 * |---------------|-----------------------------------------------|
 * | scan slot     | `scan` — the current (or last) scan, and where the schedule counts from |
 * | customer      | `c!` enc(customerId)                          |
 * | past scan     | `s!` newestFirst(requestedAt) `!` enc(scanId) — written when a scan ends |
 *
 * Size rules (1 MiB per entity, 32 Ki UTF-16 characters per string property): the subscription lists are JSON in one
 * property each, cut to the subscriptions that fit (the count is kept); text from outside is clipped.
 */

export type Entity = TableEntity<Record<string, unknown>>;

export const FLEET_PARTITION = 'fleet';
export const SLOT_ROW = 'scan';
const CUSTOMER_ROW = 'c';
const SCAN_ROW = 's';
/** A list's JSON is cut to this many characters (one property). */
export const MAX_LIST_CHARS = 30_000;
export const MAX_STEP_CHARS = 2_000;

export const slotKeys = { partitionKey: FLEET_PARTITION, rowKey: SLOT_ROW } as const;

export function customerKeys(customerId: string): { partitionKey: string; rowKey: string } {
  return { partitionKey: FLEET_PARTITION, rowKey: joinKey(CUSTOMER_ROW, encodeKey(customerId)) };
}

/** RowKey range of the customer rows: `c!` ≤ key < `c"` (`"` follows `!`). */
export const CUSTOMER_RANGE = { from: joinKey(CUSTOMER_ROW, ''), below: `${CUSTOMER_ROW}"` } as const;
export const PAST_SCAN_RANGE = { from: joinKey(SCAN_ROW, ''), below: `${SCAN_ROW}"` } as const;

export function pastScanKeys(scan: Pick<FleetScanRecord, 'scanId' | 'requestedAt'>): {
  partitionKey: string;
  rowKey: string;
} {
  return {
    partitionKey: FLEET_PARTITION,
    rowKey: joinKey(SCAN_ROW, newestFirstKey(Date.parse(scan.requestedAt)), encodeKey(scan.scanId)),
  };
}

/** A list as JSON that fits one property: the first items that fit. */
export function packList<T>(items: readonly T[], maxChars = MAX_LIST_CHARS): string {
  let kept = items.length;
  let json = JSON.stringify(items);
  while (json.length > maxChars && kept > 0) {
    kept = Math.min(kept - 1, Math.floor((kept * maxChars) / json.length));
    json = JSON.stringify(items.slice(0, kept));
  }
  return json;
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function num(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

export function json<T>(value: unknown, fallback: T): T {
  if (typeof value !== 'string' || value === '') return fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    return fallback;
  }
}

function label(value: string | undefined): string | undefined {
  return value === undefined ? undefined : clip(value, MAX_LABEL_CHARS);
}

export function customerToEntity(record: FleetCustomerRecord): Entity {
  const eligibility = record.eligibility;
  return {
    ...customerKeys(record.customerId),
    ...dropUndefined({
      customerId: record.customerId,
      companyName: label(record.companyName),
      domain: label(record.domain),
      relationship: label(record.relationship),
      usage: record.usage,
      subscriptionsRead: record.subscriptionsRead,
      legacySubscriptions: packList(record.legacySubscriptions),
      legacyCount: record.legacyCount,
      azurePlans: packList(record.azurePlans),
      // Space-separated with a space at each end: " 4812345 5923456 " (one reseller is ` ${mpnId} ` in it).
      resellers: record.resellers.length > 0 ? ` ${record.resellers.join(' ')} ` : undefined,
      agreement: record.agreement,
      isEligible: eligibility?.isEligible,
      partnerCenterReason: eligibility?.reason && clip(eligibility.reason, MAX_ERROR_CHARS),
      partnerCenterCode: eligibility?.code,
      state: record.state,
      reason: record.reason,
      code: record.code,
      upgradeId: record.upgradeId,
      nextStep: clip(record.nextStep, MAX_STEP_CHARS),
      failedCall: record.failure?.call,
      failureCategory: record.failure?.category,
      failureCode: record.failure?.code,
      failure: record.failure && clip(record.failure.error, MAX_ERROR_CHARS),
      scanId: record.scanId,
      scanPage: record.scanPage,
      scannedAt: record.scannedAt,
    }),
  };
}

export function customerFromEntity(entity: Record<string, unknown>): FleetCustomerRecord {
  const isEligible = entity.isEligible;
  let eligibility: EligibilityFact | undefined;
  if (typeof isEligible === 'boolean') {
    eligibility = { isEligible };
    const reason = str(entity.partnerCenterReason);
    if (reason !== undefined) eligibility.reason = reason;
    const code = num(entity.partnerCenterCode);
    if (code !== undefined) eligibility.code = code;
    const upgradeId = str(entity.upgradeId);
    if (upgradeId !== undefined) eligibility.upgradeId = upgradeId;
  }
  const failedCall = str(entity.failedCall);
  const record: FleetCustomerRecord = {
    customerId: String(entity.customerId),
    usage: (str(entity.usage) ?? 'none') as UsageTriage,
    subscriptionsRead: entity.subscriptionsRead === true,
    legacySubscriptions: json<LegacySubscription[]>(entity.legacySubscriptions, []),
    legacyCount: num(entity.legacyCount) ?? 0,
    azurePlans: json<AzurePlanSubscription[]>(entity.azurePlans, []),
    resellers: (str(entity.resellers) ?? '').split(' ').filter(Boolean),
    agreement: (str(entity.agreement) ?? 'not-checked') as AgreementFact,
    state: String(entity.state) as FleetState,
    nextStep: str(entity.nextStep) ?? '',
    scanId: String(entity.scanId),
    scanPage: num(entity.scanPage) ?? 0,
    scannedAt: String(entity.scannedAt),
  };
  const optional = {
    companyName: str(entity.companyName),
    domain: str(entity.domain),
    relationship: str(entity.relationship),
    reason: str(entity.reason) as NotEligibleReason | undefined,
    code: num(entity.code),
    upgradeId: str(entity.upgradeId),
  };
  Object.assign(record, dropUndefined(optional));
  if (eligibility) record.eligibility = eligibility;
  if (failedCall) {
    record.failure = {
      call: failedCall as NonNullable<FleetCustomerRecord['failure']>['call'],
      category: str(entity.failureCategory) ?? 'internal',
      error: str(entity.failure) ?? '',
    };
    const code = num(entity.failureCode);
    if (code !== undefined) record.failure.code = code;
  }
  return record;
}

function scanProperties(scan: FleetScanRecord, withLease: boolean): Record<string, unknown> {
  return dropUndefined({
    scanId: scan.scanId,
    state: scan.state,
    trigger: scan.trigger,
    requestedAt: scan.requestedAt,
    startedAt: scan.startedAt,
    finishedAt: scan.finishedAt,
    updatedAt: scan.updatedAt,
    cursor: scan.cursor && JSON.stringify(scan.cursor),
    page: scan.page,
    doneInPage: scan.doneInPage,
    counts: JSON.stringify(scan.counts),
    runs: scan.runs,
    estimatedCustomers: scan.estimatedCustomers,
    lastError: scan.lastError && clip(scan.lastError, MAX_ERROR_CHARS),
    lastErrorCategory: scan.lastErrorCategory,
    lastErrorCode: scan.lastErrorCode,
    lastErrorAt: scan.lastErrorAt,
    ...(withLease && scan.lease ? leaseFields(scan.lease) : {}),
  });
}

/** The slot row; a Replace, so what no longer applies (a released lease, an old cursor) is gone. */
export function slotToEntity(slot: ScanSlot): Entity {
  return { ...slotKeys, scheduleFrom: slot.scheduleFrom, ...(slot.scan ? scanProperties(slot.scan, true) : {}) };
}

export function pastScanToEntity(scan: FleetScanRecord): Entity {
  return { ...pastScanKeys(scan), ...scanProperties({ ...scan, lease: undefined }, false) };
}

/** A scan as stored; undefined when the row holds none. The cursor is checked field by field (storage proves nothing). */
export function scanFromEntity(entity: Record<string, unknown>): FleetScanRecord | undefined {
  const scanId = str(entity.scanId);
  if (!scanId) return undefined;
  const counts = { ...emptyCounts(), ...json<Partial<ScanCounts>>(entity.counts, {}) };
  const scan: FleetScanRecord = {
    scanId,
    state: (str(entity.state) ?? 'failed') as ScanState,
    trigger: (str(entity.trigger) ?? 'on-demand') as ScanTrigger,
    requestedAt: String(entity.requestedAt),
    updatedAt: String(entity.updatedAt ?? entity.requestedAt),
    page: num(entity.page) ?? 0,
    doneInPage: num(entity.doneInPage) ?? 0,
    counts,
    runs: num(entity.runs) ?? 0,
  };
  const optional = {
    startedAt: str(entity.startedAt),
    finishedAt: str(entity.finishedAt),
    estimatedCustomers: num(entity.estimatedCustomers),
    lastError: str(entity.lastError),
    lastErrorCategory: str(entity.lastErrorCategory),
    lastErrorCode: num(entity.lastErrorCode),
    lastErrorAt: str(entity.lastErrorAt),
    lease: leaseOf({ leaseOwner: entity.leaseOwner, leaseUntil: entity.leaseUntil }),
  };
  Object.assign(scan, dropUndefined(optional));
  const cursorText = str(entity.cursor);
  if (cursorText !== undefined) {
    try {
      scan.cursor = parsePageCursor(JSON.parse(cursorText));
    } catch (error) {
      // Storage proves nothing: a cursor that cannot be followed ends the scan (read as failed), never restarts it.
      scan.state = 'failed';
      scan.lastError = `the stored cursor is unreadable: ${(error as Error).message}`;
      scan.lastErrorCategory = 'internal';
    }
  }
  return scan;
}

export function slotFromEntity(entity: Record<string, unknown>): ScanSlot {
  const scan = scanFromEntity(entity);
  const slot: ScanSlot = { scheduleFrom: num(entity.scheduleFrom) ?? 0 };
  if (scan) slot.scan = scan;
  return slot;
}
