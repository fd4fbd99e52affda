import { app, type InvocationContext } from '@azure/functions';
import { processCallbackMessage, redactUrl } from '../shared/callbacks';
import { poisonQueueName } from '../shared/queues/poison';
import { getServices } from '../shared/services';
import { QUEUES } from '../shared/storage/names';

/**
 * Queue trigger: posts an upgrade's final result to BILLING_CALLBACK_URL, signed with CALLBACK_SIGNING_SECRET.
 * Retries with growing delays are re-enqueued copies (see shared/callbacks); only our own dependency failures
 * throw (host retry, then the poison queue).
 */
export async function notifyBillingSystem(message: unknown, context: InvocationContext): Promise<void> {
  const services = getServices();
  const result = await processCallbackMessage(message, {
    tables: services.tables,
    tracking: services.tracking,
    secrets: services.secrets,
    telemetry: services.telemetry,
    config: services.config,
    queue: services.queues.upgradeNotifications,
    poisonQueue: services.queues.upgradeNotificationsPoison,
  });
  const target = services.config.billingCallbackUrl ? redactUrl(services.config.billingCallbackUrl) : '';
  switch (result.outcome) {
    case 'invalid':
      context.warn(
        `notifyBillingSystem: message rejected (recorded in RejectedMessages, not retried): ${result.reason}`,
      );
      break;
    case 'skipped':
      context.log(`notifyBillingSystem: no callback sent: ${result.reason}`);
      break;
    case 'already-final':
      context.log(`notifyBillingSystem: event ${result.eventId} already ${result.recorded}; not sent again`);
      break;
    case 'busy':
      context.log(
        `notifyBillingSystem: event ${result.eventId} is being sent by another invocation; checked again in ${result.delaySeconds} s`,
      );
      break;
    case 'not-final':
      context.log(
        `notifyBillingSystem: upgrade ${result.upgradeId} is not final yet (${result.upgradeStatus}); nothing sent, ` +
          `checked again in ${result.delaySeconds} s`,
      );
      break;
    case 'delivered':
      context.log(
        `notifyBillingSystem: event ${result.eventId} (upgrade ${result.upgradeId}) delivered to ${target} ` +
          `on attempt ${result.attempt} (HTTP ${result.httpStatus})`,
      );
      break;
    case 'rejected':
      context.warn(`notifyBillingSystem: event ${result.eventId} rejected, not retried: ${result.error}`);
      break;
    case 'retry-scheduled':
      context.warn(
        `notifyBillingSystem: event ${result.eventId} attempt ${result.attempt} failed (${result.error}); ` +
          `next attempt in ${result.delaySeconds} s`,
      );
      break;
    case 'poisoned':
      context.error(
        `notifyBillingSystem: event ${result.eventId} not delivered after ${result.attempt} attempts ` +
          `(${result.error}); moved to ${poisonQueueName(QUEUES.upgradeNotifications)}`,
      );
      break;
    default: {
      const unhandled: never = result;
      throw new Error(`notifyBillingSystem: unhandled outcome ${JSON.stringify(unhandled)}`);
    }
  }
}

app.storageQueue('notifyBillingSystem', {
  queueName: QUEUES.upgradeNotifications,
  connection: 'AzureWebJobsStorage',
  handler: notifyBillingSystem,
});
