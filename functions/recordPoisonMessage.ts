import { app, type InvocationContext } from '@azure/functions';
import { poisonQueueName, recordPoisonMessage } from '../shared/queues/poison';
import { getServices } from '../shared/services';
import { QUEUES } from '../shared/storage/names';

/**
 * Queue triggers on the poison queues: whatever the host (after maxDequeueCount) or the callback job (after its
 * last attempt) gave up on is recorded in RejectedMessages and raised as a PoisonMessage event, then completed.
 */
function poisonHandler(poisonQueue: string) {
  return async (message: unknown, context: InvocationContext): Promise<void> => {
    const metadata = context.triggerMetadata ?? {};
    const recorded = await recordPoisonMessage(
      poisonQueue,
      message,
      { tracking: getServices().tracking, telemetry: getServices().telemetry },
      {
        messageId: typeof metadata.id === 'string' ? metadata.id : undefined,
        insertionTime: typeof metadata.insertionTime === 'string' ? metadata.insertionTime : undefined,
      },
    );
    context.error(
      `recordPoisonMessage: a message reached ${poisonQueue}` +
        (recorded.upgradeId ? ` (upgrade ${recorded.upgradeId})` : '') +
        '; recorded in RejectedMessages',
    );
  };
}

export const recordTrackingPoison = poisonHandler(poisonQueueName(QUEUES.upgradeTracking));
export const recordNotificationPoison = poisonHandler(poisonQueueName(QUEUES.upgradeNotifications));

app.storageQueue('recordTrackingPoison', {
  queueName: poisonQueueName(QUEUES.upgradeTracking),
  connection: 'AzureWebJobsStorage',
  handler: recordTrackingPoison,
});

app.storageQueue('recordNotificationPoison', {
  queueName: poisonQueueName(QUEUES.upgradeNotifications),
  connection: 'AzureWebJobsStorage',
  handler: recordNotificationPoison,
});
