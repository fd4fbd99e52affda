/** The tracking domain: what the functions (startTracking, pollUpgrades, read API, webhooks) call. */
export { acceptUpgrade, type Accepted, type AcceptDeps } from './accept';
export { pollDueUpgrades, type PollRunOptions, type PollRunSummary, type StopReason } from './poll-run';
export {
  startTracking,
  trackUpgrade,
  parseTrackingMessage,
  queueTracker,
  type TrackingSender,
  type StartTrackingDeps,
  type StartTrackingResult,
} from './start-tracking';
export { TrackingStore, InvalidContinuationTokenError, shardOf, type TableSource, type Page } from './store';
export { queueNotifier, notificationEventId, type Notifier } from '../callbacks/events';
export { RequestGate } from './request-gate';
export { isFinal, type UpgradeStatus, type FinalStatus } from './state';
export type {
  UpgradeRecord,
  UpgradeView,
  HistoryEntry,
  CustomerUpgradeSummary,
  EligibilityCheckRecord,
  PollRunRecord,
  TrackingMessage,
  UpgradeNotification,
} from './records';
