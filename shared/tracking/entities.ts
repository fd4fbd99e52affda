import type { TableEntity } from '@azure/data-tables';
import type { PartnerCenterErrorDetails, UpgradeLineItem } from '../partner-center/types';
import { digestKey, encodeKey } from './keys';
import type { HistoryEntry, UpgradeRecord } from './records';
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

/** Drops undefined values: a Replace then removes properties that no longer apply. */
function defined(entity: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entity).filter(([, v]) => v !== undefined));
}

/**
 * Upgrades rows: PartitionKey = a bucket of 256 (two hex digits of a digest of the id), RowKey = enc(upgradeId).
 * Still a point lookup by upgrade id, and rows can be written in bulk as transactions (seeding, migrations).
 */
export function upgradeKeys(upgradeId: string): { partitionKey: string; rowKey: string } {
  return { partitionKey: `u${digestKey(upgradeId, 2)}`, rowKey: encodeKey(upgradeId) };
}

export function upgradeToEntity(record: UpgradeRecord): Entity {
  const packed = packLineItems(record.lineItems);
  const chunks = Object.fromEntries(packed.chunks.map((chunk, i) => [`lineItems${i}`, chunk]));
  return {
    ...upgradeKeys(record.upgradeId),
    ...defined({
      upgradeId: record.upgradeId,
      customerId: record.customerId,
      productFamily: record.productFamily,
      correlationId: record.correlationId && clip(record.correlationId, MAX_LABEL_CHARS),
      source: record.source && clip(record.source, MAX_LABEL_CHARS),
      status: record.status,
      rawStatus: clip(record.rawStatus, MAX_LABEL_CHARS),
      statusRank: record.statusRank,
      observedAt: record.observedAt,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      completedAt: record.completedAt,
      lastPolledAt: record.lastPolledAt,
      attempts: record.attempts,
      pollCount: record.pollCount,
      unchangedPolls: record.unchangedPolls,
      lastError: record.lastError && clip(record.lastError, MAX_ERROR_CHARS),
      lastErrorCategory: record.lastErrorCategory,
      lastErrorAt: record.lastErrorAt,
      nextPollAt: record.nextPollAt,
      scheduleKey: record.scheduleKey,
      leaseOwner: record.leaseOwner,
      leaseUntil: record.leaseUntil,
      lineItemChunks: packed.chunks.length,
      lineItemCount: Math.max(record.lineItemCount, record.lineItems.length),
      lineItemsTruncated: record.lineItemsTruncated || packed.truncated,
      lineItemsDigest: record.lineItemsDigest,
      errorDetails: detailsText(record.errorDetails),
      historySeq: record.historySeq,
      notifyEventId: record.notifyEventId,
      notifiedAt: record.notifiedAt,
    }),
    ...chunks,
  };
}

export function upgradeFromEntity(entity: Record<string, unknown>): UpgradeRecord {
  const chunkCount = num(entity.lineItemChunks);
  let json = '';
  for (let i = 0; i < chunkCount; i++) json += str(entity[`lineItems${i}`]);
  const lineItems = json ? (JSON.parse(json) as UpgradeLineItem[]) : [];
  return {
    upgradeId: String(entity.upgradeId),
    customerId: String(entity.customerId),
    productFamily: String(entity.productFamily),
    correlationId: optionalString(entity.correlationId),
    source: optionalString(entity.source),
    status: String(entity.status) as UpgradeStatus,
    rawStatus: str(entity.rawStatus),
    statusRank: num(entity.statusRank),
    observedAt: optionalString(entity.observedAt),
    createdAt: String(entity.createdAt),
    updatedAt: String(entity.updatedAt),
    completedAt: optionalString(entity.completedAt),
    lastPolledAt: optionalString(entity.lastPolledAt),
    attempts: num(entity.attempts),
    pollCount: num(entity.pollCount),
    unchangedPolls: num(entity.unchangedPolls),
    lastError: optionalString(entity.lastError),
    lastErrorCategory: optionalString(entity.lastErrorCategory),
    lastErrorAt: optionalString(entity.lastErrorAt),
    nextPollAt: optionalString(entity.nextPollAt),
    scheduleKey: str(entity.scheduleKey),
    leaseOwner: optionalString(entity.leaseOwner),
    leaseUntil: optionalString(entity.leaseUntil),
    lineItems,
    lineItemCount: num(entity.lineItemCount),
    lineItemsTruncated: entity.lineItemsTruncated === true,
    lineItemsDigest: str(entity.lineItemsDigest),
    errorDetails: details(entity.errorDetails),
    historySeq: num(entity.historySeq),
    notifyEventId: optionalString(entity.notifyEventId),
    notifiedAt: optionalString(entity.notifiedAt),
  };
}

export function historyToEntity(partitionKey: string, rowKey: string, entry: HistoryEntry): Entity {
  const json = entry.lineItems ? JSON.stringify(entry.lineItems) : undefined;
  return {
    partitionKey,
    rowKey,
    ...defined({
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

/** Same observation content (ignoring when it was seen): used to accept a history row written by a retry. */
export function sameHistoryContent(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return a.status === b.status && a.rawStatus === b.rawStatus && (a.lineItems ?? '') === (b.lineItems ?? '');
}
