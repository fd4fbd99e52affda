/** Billing callbacks (the `upgrade-notifications` consumer) and poison-queue recording. */
export {
  parseCallbackMessage,
  retryDelaySeconds,
  MAX_RETRY_DELAY_SECONDS,
  type CallbackMessage,
  type ParsedCallbackMessage,
} from './callback-message';
export { processCallbackMessage, type CallbackJobDeps, type CallbackJobResult } from './callback-job';
export { recordPoisonMessage, poisonQueueName, type PoisonRecord, type PoisonMessageMetadata } from './poison';
