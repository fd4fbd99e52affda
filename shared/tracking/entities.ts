import { dropUndefined } from '../json';
import type { TableEntity } from '@azure/data-tables';
import type { PartnerCenterErrorDetails, UpgradeLineItem } from '../partner-center/types';
import { leaseFields, leaseOf, type Lease } from '../storage/lease';
import { encodeKey, joinKey, parseTimeKey, sequenceKey, timeKey } from './keys';
import {
  POLL_STATE_FIELDS,
  type AcceptedEntry,
  type HistoryEntry,
  type PollState,
  type ScheduleEntry,
  type UpgradeRecord,
} from './records';
import type { UpgradeStatus } from './state';

/**
 * Mapping between domain records and table entities, and the size rules that keep every entity inside Table
 * Storage's limits (1 MiB per entity, 64 KiB = 32 Ki UTF-16 characters per string property, 255 properties):
 * - line items are stored as JSON split over `lineItems0..lineItems7` (30,000 characters each, about 480 KB in all);
 *   when Partner Center sends more than that, the array is cut to the items that fit, `lineItemsTruncated` is set and
 *   `lineItemCount` keeps the real count — the status and every other field are always kept whole;
 * - a history row keeps its line items only when they fit in one property (else only their count);
 * - free text from outside (errors, correlation ids, sources) is cut to a fixed length.
 */

export const LINE_ITEM_CHUNK_CHARS = 30_000;
export const LINE_ITEM_MAX_CHUNKS = 8;
export const MAX_ERROR_CHARS = 1_000;
export const MAX_DETAILS_CHARS = 4_000;
export const MAX_LABEL_CHARS = 200;

export type Entity = TableEntity<Record<string, unknown>>;

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function packLineItems(items: UpgradeLineItem[]): { chunks: string[]; kept: number; truncated: boolean } {
  const budget = LINE_ITEM_CHUNK_CHARS * LINE_ITEM_MAX_CHUNKS;
  let kept = items.length;
  let json = JSON.stringify(items);
  while (json.length > budget && kept > 0) {
    kept = Math.min(kept - 1, Math.floor((kept * budget) / json.length));
    json = JSON.stringify(items.slice(0, kept));
  }
  const chunks: string[] = [];
  for (let i = 0; i < json.length; i += LINE_ITEM_CHUNK_CHARS) chunks.push(json.slice(i, i + LINE_ITEM_CHUNK_CHARS));
  return { chunks, kept, truncated: kept < items.length };
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value ?? 0) || 0;
}

function details(value: unknown): PartnerCenterErrorDetails | undefined {
  const text = optionalString(value);
  if (!text) return undefined;
  try {
    return JSON.parse(text) as PartnerCenterErrorDetails;
  } catch {
    return { description: text };
  }
}

function detailsText(value: PartnerCenterErrorDetails | undefined): string | undefined {
  return value ? clip(JSON.stringify(value), MAX_DETAILS_CHARS) : undefined;
}

/**
 * The Tracking table: one partition per schedule shard, holding every row of the upgrades of that shard, told apart
 * by RowKey prefix, so all the writes of one poll fit one entity-group transaction:
 *
 * | row           | RowKey                                  |
 * |---------------|-----------------------------------------|
 * | upgrade       | `u!` enc(upgradeId)                     |
 * | history       | `h!` enc(upgradeId) `!` sequence         |
 * | schedule      | `t!` time(dueAt) `!` enc(upgradeId)      |
 * | accepted      | `a!` time(acceptedAt) `!` enc(upgradeId) |
 *
 * `!` never occurs inside an encoded part, so each prefix is a clean RowKey range.
 */
export const SCHEDULE_SHARDS = 4;
const UPGRADE_ROW = 'u';
const HISTORY_ROW = 'h';
const SCHEDULE_ROW = 't';
const ACCEPTED_ROW = 'a';

/** FNV-1a: a stable, cheap spread of upgrade ids over the shards (the partitions of the Tracking table). */
export function shardOf(upgradeId: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < upgradeId.length; i++) {
    hash ^= upgradeId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `s${hash % SCHEDULE_SHARDS}`;
}

export const SHARDS: readonly string[] = Array.from({ length: SCHEDULE_SHARDS }, (_, i) => `s${i}`);

export interface RowKeys {
  partitionKey: string;
  rowKey: string;
}

/** RowKey range of the upgrade rows of a shard: `u!` ≤ key < `u"` (`"` follows `!`). */
export const UPGRADE_RANGE = { from: joinKey(UPGRADE_ROW, ''), below: `${UPGRADE_ROW}"` } as const;

export function upgradeKeys(upgradeId: string): RowKeys {
  return { partitionKey: shardOf(upgradeId), rowKey: joinKey(UPGRADE_ROW, encodeKey(upgradeId)) };
}

export function historyKeys(upgradeId: string, sequence: number): RowKeys {
  return {
    partitionKey: shardOf(upgradeId),
    rowKey: joinKey(HISTORY_ROW, encodeKey(upgradeId), sequenceKey(sequence)),
  };
}

/** The RowKey range of an upgrade's history rows 1..`upTo` (both ends included). */
export function historyRange(upgradeId: string, upTo: number): { partitionKey: string; after: string; upTo: string } {
  return {
    partitionKey: shardOf(upgradeId),
    after: joinKey(HISTORY_ROW, encodeKey(upgradeId), ''),
    upTo: historyKeys(upgradeId, upTo).rowKey,
  };
}

export function scheduleRowKey(dueAt: number, upgradeId: string): string {
  return joinKey(SCHEDULE_ROW, timeKey(dueAt), encodeKey(upgradeId));
}

/** An accepted row is keyed by the time its upgrade was accepted: the upgrade row's `createdAt`. */
export function acceptedRowKey(record: Pick<UpgradeRecord, 'upgradeId' | 'createdAt'>): string {
  return joinKey(ACCEPTED_ROW, timeKey(Date.parse(record.createdAt)), encodeKey(record.upgradeId));
}

/** The RowKey range of the rows of one kind whose time is `before` or earlier (one range query per shard). */
function timeRange(kind: string, before: number): { from: string; below: string } {
  return { from: joinKey(kind, ''), below: joinKey(kind, timeKey(before + 1)) };
}

/** Schedule rows due at `now` or earlier. */
export const dueRange = (now: number) => timeRange(SCHEDULE_ROW, now);
/** Accepted rows accepted at `before` or earlier. */
export const acceptedRange = (before: number) => timeRange(ACCEPTED_ROW, before);

function rowTime(rowKey: string): number {
  return parseTimeKey(rowKey.slice(rowKey.indexOf('!') + 1));
}

/**
 * The table properties of (some of) an upgrade's fields, with the size rules applied. For a Merge (`clear`), a field
 * present but undefined is written as '' (read back as undefined), since a Merge cannot remove a property.
 */
function upgradeProperties(fields: Partial<UpgradeRecord>, clear: boolean): Record<string, unknown> {
  const has = (key: keyof UpgradeRecord) => Object.prototype.hasOwnProperty.call(fields, key);
  const properties: Record<string, unknown> = {
    upgradeId: fields.upgradeId,
    customerId: fields.customerId,
    productFamily: fields.productFamily,
    correlationId: fields.correlationId && clip(fields.correlationId, MAX_LABEL_CHARS),
    source: fields.source && clip(fields.source, MAX_LABEL_CHARS),
    waveId: fields.waveId,
    status: fields.status,
    rawStatus: fields.rawStatus === undefined ? undefined : clip(fields.rawStatus, MAX_LABEL_CHARS),
    statusRank: fields.statusRank,
    observedAt: fields.observedAt,
    createdAt: fields.createdAt,
    updatedAt: fields.updatedAt,
    completedAt: fields.completedAt,
    lastPolledAt: fields.lastPolledAt,
    attempts: fields.attempts,
    pollCount: fields.pollCount,
    unchangedPolls: fields.unchangedPolls,
    lastError: fields.lastError && clip(fields.lastError, MAX_ERROR_CHARS),
    lastErrorCategory: fields.lastErrorCategory,
    lastErrorCode: fields.lastErrorCode,
    lastErrorAt: fields.lastErrorAt,
    nextPollAt: fields.nextPollAt,
    trackingStartedAt: fields.trackingStartedAt,
    scheduleKey: fields.scheduleKey,
    lineItemCount: fields.lineItemCount,
    lineItemsTruncated: fields.lineItemsTruncated,
    lineItemsDigest: fields.lineItemsDigest,
    errorDetails: has('errorDetails') ? (detailsText(fields.errorDetails) ?? (clear ? '' : undefined)) : undefined,
    historySeq: fields.historySeq,
    notifyEventId: fields.notifyEventId,
    notifiedAt: fields.notifiedAt,
  };
  if (fields.lineItems !== undefined) {
    const packed = packLineItems(fields.lineItems);
    packed.chunks.forEach((chunk, i) => (properties[`lineItems${i}`] = chunk));
    properties.lineItemChunks = packed.chunks.length;
    properties.lineItemCount = Math.max(fields.lineItemCount ?? 0, fields.lineItems.length);
    properties.lineItemsTruncated = (fields.lineItemsTruncated ?? false) || packed.truncated;
  }
  if (clear) {
    for (const key of Object.keys(properties) as (keyof UpgradeRecord)[]) {
      if (properties[key] === undefined && has(key)) properties[key] = '';
    }
  }
  return dropUndefined(properties);
}

/** The whole upgrade row (insert or Replace). */
export function upgradeToEntity(record: UpgradeRecord): Entity {
  return { ...upgradeKeys(record.upgradeId), ...upgradeProperties(record, false) };
}

/** The fields of an upgrade row that changed, as a Merge entity (properties not named are left as they are). */
export function upgradeChangesToEntity(upgradeId: string, changes: Partial<UpgradeRecord>): Entity {
  return { ...upgradeKeys(upgradeId), ...upgradeProperties(changes, true) };
}

export function upgradeFromEntity(entity: Record<string, unknown>): UpgradeRecord {
  const chunkCount = num(entity.lineItemChunks);
  let json = '';
  for (let i = 0; i < chunkCount; i++) json += str(entity[`lineItems${i}`]);
  const lineItems = json ? (JSON.parse(json) as UpgradeLineItem[]) : [];
  return {
    ...pollStateFromEntity(entity),
    correlationId: optionalString(entity.correlationId),
    source: optionalString(entity.source),
    updatedAt: String(entity.updatedAt),
    lastPolledAt: optionalString(entity.lastPolledAt),
    lastError: optionalString(entity.lastError),
    lastErrorCategory: optionalString(entity.lastErrorCategory),
    lastErrorCode: typeof entity.lastErrorCode === 'number' ? entity.lastErrorCode : undefined,
    lastErrorAt: optionalString(entity.lastErrorAt),
    nextPollAt: optionalString(entity.nextPollAt),
    trackingStartedAt: optionalString(entity.trackingStartedAt),
    scheduleKey: str(entity.scheduleKey),
    lineItems,
    lineItemsTruncated: entity.lineItemsTruncated === true,
    errorDetails: details(entity.errorDetails),
    notifyEventId: optionalString(entity.notifyEventId),
    notifiedAt: optionalString(entity.notifiedAt),
  };
}

function pollStateFromEntity(entity: Record<string, unknown>): PollState {
  return {
    upgradeId: String(entity.upgradeId),
    customerId: String(entity.customerId),
    productFamily: String(entity.productFamily),
    status: String(entity.status) as UpgradeStatus,
    rawStatus: str(entity.rawStatus),
    statusRank: num(entity.statusRank),
    observedAt: optionalString(entity.observedAt),
    createdAt: String(entity.createdAt),
    completedAt: optionalString(entity.completedAt),
    attempts: num(entity.attempts),
    pollCount: num(entity.pollCount),
    unchangedPolls: num(entity.unchangedPolls),
    historySeq: num(entity.historySeq),
    lineItemCount: num(entity.lineItemCount),
    lineItemsDigest: str(entity.lineItemsDigest),
    waveId: optionalString(entity.waveId),
  };
}

/** The poll state of an upgrade (its schedule row carries exactly this). */
export function pollStateOf(record: PollState): PollState {
  return Object.fromEntries(POLL_STATE_FIELDS.map((key) => [key, record[key]])) as unknown as PollState;
}

/** A schedule row: the poll state, due at `dueAt`, optionally leased. */
export function scheduleToEntity(state: PollState, dueAt: number, lease?: Lease): Entity {
  return {
    partitionKey: shardOf(state.upgradeId),
    rowKey: scheduleRowKey(dueAt, state.upgradeId),
    ...upgradeProperties(pollStateOf(state), false),
    ...(lease ? leaseFields(lease) : {}),
  };
}

export function scheduleFromEntity(entity: Record<string, unknown> & { etag: string }): ScheduleEntry {
  const rowKey = String(entity.rowKey);
  return {
    shard: String(entity.partitionKey),
    rowKey,
    dueAt: rowTime(rowKey),
    etag: entity.etag,
    state: pollStateFromEntity(entity),
    lease: leaseOf({ leaseOwner: entity.leaseOwner, leaseUntil: entity.leaseUntil }),
  };
}

/** The accepted row of an accepted upgrade: its tracking message, to re-send until startTracking has run. */
export function acceptedToEntity(record: UpgradeRecord): Entity {
  return {
    partitionKey: shardOf(record.upgradeId),
    rowKey: acceptedRowKey(record),
    ...dropUndefined({
      upgradeId: record.upgradeId,
      customerId: record.customerId,
      productFamily: record.productFamily,
      correlationId: record.correlationId && clip(record.correlationId, MAX_LABEL_CHARS),
      source: record.source && clip(record.source, MAX_LABEL_CHARS),
      waveId: record.waveId,
      resends: 0,
      resendAfter: 0,
    }),
  };
}

export function acceptedFromEntity(entity: Record<string, unknown> & { etag: string }): AcceptedEntry {
  const rowKey = String(entity.rowKey);
  return {
    shard: String(entity.partitionKey),
    rowKey,
    etag: entity.etag,
    acceptedAt: rowTime(rowKey),
    message: {
      upgradeId: String(entity.upgradeId),
      customerId: String(entity.customerId),
      productFamily: String(entity.productFamily),
      correlationId: optionalString(entity.correlationId),
      source: optionalString(entity.source),
      waveId: optionalString(entity.waveId),
    },
    resends: num(entity.resends),
    resendAfter: num(entity.resendAfter),
  };
}

export function historyToEntity(upgradeId: string, entry: HistoryEntry): Entity {
  const json = entry.lineItems ? JSON.stringify(entry.lineItems) : undefined;
  return {
    ...historyKeys(upgradeId, entry.sequence),
    ...dropUndefined({
      sequence: entry.sequence,
      observedAt: entry.observedAt,
      status: entry.status,
      rawStatus: clip(entry.rawStatus, MAX_LABEL_CHARS),
      lineItems: json !== undefined && json.length <= LINE_ITEM_CHUNK_CHARS ? json : undefined,
      lineItemCount: entry.lineItemCount,
      errorDetails: detailsText(entry.errorDetails),
    }),
  };
}

export function historyFromEntity(entity: Record<string, unknown>): HistoryEntry {
  const json = optionalString(entity.lineItems);
  return {
    sequence: num(entity.sequence),
    observedAt: String(entity.observedAt),
    status: String(entity.status) as UpgradeStatus,
    rawStatus: str(entity.rawStatus),
    lineItems: json ? (JSON.parse(json) as UpgradeLineItem[]) : undefined,
    lineItemCount: num(entity.lineItemCount),
    errorDetails: details(entity.errorDetails),
  };
}
