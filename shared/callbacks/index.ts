/** Billing callbacks: what a final upgrade tells the billing system, and the queue job that posts it. */
export { eventFor, notificationEventId, notificationFor, queueNotifier, type Notifier } from './events';
export {
  parseCallbackMessage,
  retryDelaySeconds,
  MAX_RETRY_DELAY_SECONDS,
  type CallbackMessage,
  type ParsedCallbackMessage,
} from './message';
export {
  classifyStatus,
  deliverCallback,
  redactUrl,
  type CallbackPayload,
  type DeliveryOutcome,
  type DeliveryResult,
} from './delivery';
export {
  claimCallbackSend,
  isFinalOutcome,
  recordCallbackOutcome,
  type CallbackRecord,
  type RecordedOutcome,
  type SendClaim,
} from './store';
export { processCallbackMessage, type CallbackJobDeps, type CallbackJobResult } from './job';
