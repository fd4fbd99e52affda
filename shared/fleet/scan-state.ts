import type { NcrontabSchedule } from '../config';
import type { PageCursor } from '../partner-center/types';
import { heldByOther, type Lease } from '../storage/lease';
import {
  emptyCounts,
  isFinished,
  type FleetCustomerRecord,
  type FleetScanRecord,
  type ScanCounts,
  type ScanError,
  type ScanSlot,
  type ScanTrigger,
} from './records';

/**
 * Every change of the scan slot, as pure decisions: the slot as read in, what to write (and what to write with it in
 * the same transaction) out. The store runs them through the one conditional update, so a conflict re-reads the row
 * and decides again; nothing here does I/O.
 */

export interface SlotDecision<R> {
  result: R;
  /** The slot to store (a Replace conditional on the ETag read, or an insert when there was none). */
  write?: ScanSlot;
  /** Customer rows written with it, in the same transaction. */
  customers?: FleetCustomerRecord[];
  /** A finished scan's record kept with it (its `s!` row). */
  archive?: FleetScanRecord;
}

const iso = (epochMs: number): string => new Date(epochMs).toISOString();

/** Adds counts (maps key by key); a delta holds only what changed. */
export function addCounts(base: ScanCounts, delta: Partial<ScanCounts>): ScanCounts {
  const sum = (a: Record<string, number | undefined>, b: Record<string, number | undefined> | undefined) => {
    const out: Record<string, number> = {};
    for (const [key, value] of Object.entries(a)) if (value !== undefined) out[key] = value;
    for (const [key, value] of Object.entries(b ?? {})) if (value) out[key] = (out[key] ?? 0) + value;
    return out;
  };
  return {
    checked: base.checked + (delta.checked ?? 0),
    listed: base.listed + (delta.listed ?? 0),
    unreadable: base.unreadable + (delta.unreadable ?? 0),
    pages: base.pages + (delta.pages ?? 0),
    byState: sum(base.byState, delta.byState),
    byReason: sum(base.byReason, delta.byReason),
    calls: sum(base.calls, delta.calls),
    throttled: base.throttled + (delta.throttled ?? 0),
    upgradesAccepted: base.upgradesAccepted + (delta.upgradesAccepted ?? 0),
  };
}

export type RequestResult = { outcome: 'created' | 'exists'; scan: FleetScanRecord };

function newScan(slot: ScanSlot | undefined, scanId: string, trigger: ScanTrigger, now: number): FleetScanRecord {
  const previous = slot?.scan;
  const estimate = previous?.state === 'completed' ? previous.counts.checked : previous?.estimatedCustomers;
  return {
    scanId,
    state: 'requested',
    trigger,
    requestedAt: iso(now),
    updatedAt: iso(now),
    page: 0,
    doneInPage: 0,
    counts: emptyCounts(),
    runs: 0,
    ...(estimate === undefined ? {} : { estimatedCustomers: estimate }),
  };
}

/** A scan is asked for: a new one, or the one not finished yet (one scan at a time). */
export function decideRequest(
  slot: ScanSlot | undefined,
  request: { scanId: string; trigger: ScanTrigger; now: number },
): SlotDecision<RequestResult> {
  if (slot?.scan && !isFinished(slot.scan)) return { result: { outcome: 'exists', scan: slot.scan } };
  const scan = newScan(slot, request.scanId, request.trigger, request.now);
  return { result: { outcome: 'created', scan }, write: { scheduleFrom: slot?.scheduleFrom ?? request.now, scan } };
}

export type ScheduleResult =
  | { outcome: 'anchored' | 'not-due' }
  | { outcome: 'unfinished'; scan: FleetScanRecord }
  | { outcome: 'requested'; scan: FleetScanRecord };

/**
 * The timer run's look at the schedule: a scan is due when an occurrence of the schedule has come since the last
 * scan was requested. A fresh deployment (no slot yet) only records when it started counting, so its first scheduled
 * scan is at the schedule's next occurrence, not at once.
 */
export function decideSchedule(
  slot: ScanSlot | undefined,
  check: { scanId: string; now: number; schedule: NcrontabSchedule },
): SlotDecision<ScheduleResult> {
  if (!slot) return { result: { outcome: 'anchored' }, write: { scheduleFrom: check.now } };
  if (slot.scan && !isFinished(slot.scan)) return { result: { outcome: 'unfinished', scan: slot.scan } };
  const from = slot.scan ? Date.parse(slot.scan.requestedAt) : slot.scheduleFrom;
  if (check.schedule.next(from) > check.now) return { result: { outcome: 'not-due' } };
  const decision = decideRequest(slot, { scanId: check.scanId, trigger: 'schedule', now: check.now });
  return { result: { outcome: 'requested', scan: decision.result.scan }, write: decision.write };
}

export type ClaimResult =
  | { outcome: 'claimed'; scan: FleetScanRecord; firstStart: boolean }
  | { outcome: 'busy'; scan: FleetScanRecord }
  | { outcome: 'none' };

/** A run takes the scan not finished, unless another run's lease on it is in force. */
export function decideClaim(slot: ScanSlot | undefined, lease: Lease, now: number): SlotDecision<ClaimResult> {
  const scan = slot?.scan;
  if (!slot || !scan || isFinished(scan)) return { result: { outcome: 'none' } };
  if (heldByOther(scan.lease, lease.owner, now)) return { result: { outcome: 'busy', scan } };
  const claimed: FleetScanRecord = {
    ...scan,
    state: 'running',
    startedAt: scan.startedAt ?? iso(now),
    updatedAt: iso(now),
    runs: scan.runs + 1,
    lease,
  };
  return {
    result: { outcome: 'claimed', scan: claimed, firstStart: scan.startedAt === undefined },
    write: { ...slot, scan: claimed },
  };
}

export interface Progress {
  scanId: string;
  /** The page the run works on: a write for another page (the scan moved on without it) is refused. */
  page: number;
  lease: Lease;
  now: number;
  delta: Partial<ScanCounts>;
}

export type ProgressResult = { outcome: 'written'; scan: FleetScanRecord } | { outcome: 'lost' };

/**
 * The scan as this run left it, or undefined when it is no longer the run's: another run claimed it after (the lease
 * changed hands), it finished, or it moved to another page.
 */
function ownScan(slot: ScanSlot | undefined, progress: Progress): FleetScanRecord | undefined {
  const scan = slot?.scan;
  if (!scan || scan.scanId !== progress.scanId || scan.state !== 'running') return undefined;
  if (scan.lease?.owner !== progress.lease.owner || scan.page !== progress.page) return undefined;
  return scan;
}

function lost(): SlotDecision<ProgressResult> {
  return { result: { outcome: 'lost' } };
}

function written(slot: ScanSlot, scan: FleetScanRecord, extra: Omit<SlotDecision<ProgressResult>, 'result'> = {}) {
  return { result: { outcome: 'written' as const, scan }, write: { ...slot, scan }, ...extra };
}

/** Customer rows of the page, written with the scan's counts and how many of the page are done. */
export function decideBatch(
  slot: ScanSlot | undefined,
  progress: Progress,
  customers: FleetCustomerRecord[],
): SlotDecision<ProgressResult> {
  const scan = ownScan(slot, progress);
  if (!slot || !scan) return lost();
  const next: FleetScanRecord = {
    ...scan,
    counts: addCounts(scan.counts, progress.delta),
    doneInPage: scan.doneInPage + customers.length,
    updatedAt: iso(progress.now),
    lease: progress.lease,
  };
  return written(slot, next, { customers });
}

function finished(scan: FleetScanRecord, state: 'completed' | 'failed', now: number): FleetScanRecord {
  const { lease: _lease, cursor: _cursor, ...rest } = scan;
  return { ...rest, state, finishedAt: iso(now), updatedAt: iso(now) };
}

/**
 * Every customer of the page is written (and its upgrade handed over): the scan moves to the next page, or, when
 * there is none, is complete.
 */
export function decidePageDone(
  slot: ScanSlot | undefined,
  progress: Progress,
  next: PageCursor | undefined,
): SlotDecision<ProgressResult> {
  const scan = ownScan(slot, progress);
  if (!slot || !scan) return lost();
  const moved: FleetScanRecord = {
    ...scan,
    counts: addCounts(scan.counts, { ...progress.delta, pages: (progress.delta.pages ?? 0) + 1 }),
    page: scan.page + 1,
    doneInPage: 0,
    updatedAt: iso(progress.now),
    lease: progress.lease,
  };
  if (next) return written(slot, { ...moved, cursor: next });
  const done = finished(moved, 'completed', progress.now);
  return written(slot, done, { archive: done });
}

/** The listing ended past the stored cursor (no page there, or Partner Center's code-2000 end): complete. */
export function decideComplete(slot: ScanSlot | undefined, progress: Progress): SlotDecision<ProgressResult> {
  const scan = ownScan(slot, progress);
  if (!slot || !scan) return lost();
  const done = finished({ ...scan, counts: addCounts(scan.counts, progress.delta) }, 'completed', progress.now);
  return written(slot, done, { archive: done });
}

/** The error fields of a scan: the text, its category and Partner Center's code (none left from an older error). */
function errorFields(error: ScanError, now: number): Partial<FleetScanRecord> {
  return {
    lastError: error.text,
    lastErrorCategory: error.category,
    lastErrorCode: error.code,
    lastErrorAt: iso(now),
  };
}

/** The scan cannot go on (its listing refused for good): failed, with the reason. */
export function decideFail(
  slot: ScanSlot | undefined,
  progress: Progress,
  error: ScanError,
): SlotDecision<ProgressResult> {
  const scan = ownScan(slot, progress);
  if (!slot || !scan) return lost();
  const failed = finished(
    { ...scan, counts: addCounts(scan.counts, progress.delta), ...errorFields(error, progress.now) },
    'failed',
    progress.now,
  );
  return written(slot, failed, { archive: failed });
}

/** The run ends with the scan unfinished: its lease released (the next run resumes at once), its counts and error kept. */
export function decideRelease(
  slot: ScanSlot | undefined,
  progress: Progress,
  error?: ScanError,
): SlotDecision<ProgressResult> {
  const scan = ownScan(slot, progress);
  if (!slot || !scan) return lost();
  const { lease: _lease, ...rest } = scan;
  const released: FleetScanRecord = {
    ...rest,
    counts: addCounts(scan.counts, progress.delta),
    updatedAt: iso(progress.now),
    ...(error === undefined ? {} : errorFields(error, progress.now)),
  };
  return written(slot, released);
}
