import type { PartnerCenterErrorDetails, UpgradeLineItem } from '../partner-center/types';
import type { Lease } from '../storage/lease';
import type { UpgradeStatus } from './state';

/**
 * One tracked upgrade as the domain sees it (its upgrade row in the `Tracking` table, decoded). Times are ISO-8601
 * UTC strings.
 */
export interface UpgradeRecord {
  upgradeId: string;
  customerId: string;
  productFamily: string;
  correlationId?: string;
  source?: string;
  /** The fleet wave that started (or took over) the upgrade; carried to its final events and billing callback. */
  waveId?: string;
  status: UpgradeStatus;
  /** Partner Center's status text, verbatim ('' before the first poll). */
  rawStatus: string;
  /** Highest known rank reached (see state.ts). */
  statusRank: number;
  /** Time of the observation the status comes from. */
  observedAt?: string;
  createdAt: string;
  updatedAt: string;
  completedAt?: string;
  lastPolledAt?: string;
  /** Consecutive failed polls (0 after a successful one). */
  attempts: number;
  pollCount: number;
  unchangedPolls: number;
  /** The last failed poll, for operators: its description (may name settings, hosts, Entra ID text), never shown. */
  lastError?: string;
  lastErrorCategory?: string;
  /** Partner Center's error code of the last failure (900106, …), when it sent one. */
  lastErrorCode?: number;
  lastErrorAt?: string;
  nextPollAt?: string;
  /** When startTracking put the upgrade into the poll schedule; undefined while it is accepted but not yet tracked. */
  trackingStartedAt?: string;
  /** RowKey of this upgrade's live schedule row; '' before tracking started and once it left the schedule. */
  scheduleKey: string;
  lineItems: UpgradeLineItem[];
  /** How many line items Partner Center sent (more than `lineItems.length` when truncated to fit the entity). */
  lineItemCount: number;
  lineItemsTruncated: boolean;
  /** Digest of the full line-item array as last observed (change detection survives truncation). */
  lineItemsDigest: string;
  errorDetails?: PartnerCenterErrorDetails;
  /** Number of committed history rows. */
  historySeq: number;
  notifyEventId?: string;
  notifiedAt?: string;
}

export interface HistoryEntry {
  sequence: number;
  observedAt: string;
  status: UpgradeStatus;
  rawStatus: string;
  /** Line items at that time, or undefined when too large to keep in one history row (see `lineItemCount`). */
  lineItems?: UpgradeLineItem[];
  lineItemCount: number;
  errorDetails?: PartnerCenterErrorDetails;
}

export interface UpgradeView extends UpgradeRecord {
  history: HistoryEntry[];
}

export interface CustomerUpgradeSummary {
  upgradeId: string;
  customerId: string;
  productFamily: string;
  status: UpgradeStatus;
  rawStatus: string;
  createdAt: string;
  updatedAt: string;
  completedAt?: string;
}

export interface EligibilityCheckRecord {
  customerId: string;
  productFamily: string;
  isEligible: boolean;
  reason?: string;
  upgradeId?: string;
  checkedAt: string;
  correlationId?: string;
}

export interface PollRunRecord {
  runId: string;
  startedAt: string;
  finishedAt?: string;
  due: number;
  polled: number;
  changed: number;
  throttled: number;
  errors: number;
  completed: number;
  stale: number;
  notified: number;
  skipped: number;
  /** Tracking messages re-sent for upgrades accepted long ago whose tracking had not started. */
  recovered: number;
  stoppedBy?: string;
}

/** The upgrade fields one poll needs: carried on the schedule row, so a poll never reads the upgrade row. */
export const POLL_STATE_FIELDS = [
  'upgradeId',
  'customerId',
  'productFamily',
  'status',
  'rawStatus',
  'statusRank',
  'observedAt',
  'createdAt',
  'completedAt',
  'attempts',
  'pollCount',
  'unchangedPolls',
  'historySeq',
  'lineItemCount',
  'lineItemsDigest',
  // The final events name the upgrade's wave (and the poll never reads the upgrade row).
  'waveId',
] as const satisfies readonly (keyof UpgradeRecord)[];

export type PollState = Pick<UpgradeRecord, (typeof POLL_STATE_FIELDS)[number]>;

/** One row of the poll schedule, as the due query returns it. */
export interface ScheduleEntry {
  shard: string;
  rowKey: string;
  /** Epoch ms the poll is due (from the RowKey). */
  dueAt: number;
  /** ETag of the row as read: a claim is conditional on it. */
  etag: string;
  state: PollState;
  lease?: Lease;
}

/** An accepted upgrade whose tracking has not started yet (its outbox row), as the sweep query returns it. */
export interface AcceptedEntry {
  shard: string;
  rowKey: string;
  etag: string;
  message: TrackingMessage;
  acceptedAt: number;
  /** Times the poll run re-sent the tracking message, and the earliest time it may send it again (epoch ms). */
  resends: number;
  resendAfter: number;
}

/** The `upgrade-tracking` queue message: ids only; durable state lives in the tables. */
export interface TrackingMessage {
  upgradeId: string;
  customerId: string;
  productFamily: string;
  correlationId?: string;
  source?: string;
  /**
   * The fleet wave that recorded the upgrade. Trusted only from the upgrade's own row: a message for an upgrade the
   * app did not record has its wave id dropped (start-tracking.ts).
   */
  waveId?: string;
}

export type UpgradeEvent = 'upgrade.completed' | 'upgrade.failed' | 'upgrade.stale';

/** What goes to `upgrade-notifications` when an upgrade reaches a final status. */
export interface UpgradeNotification {
  /** Deterministic per upgrade and final status, so a resend is recognisable as the same event. */
  eventId: string;
  event: UpgradeEvent;
  upgradeId: string;
  customerId: string;
  status: string;
  completedAt: string;
}
