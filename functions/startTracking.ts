import { app, type InvocationContext } from '@azure/functions';
import { getServices } from '../shared/services';
import { QUEUES } from '../shared/storage/names';
import { startTracking as trackFromMessage } from '../shared/tracking';

/** Queue trigger: record the upgrade named by the message, due for its first poll now. Storage errors throw (retry). */
export async function startTracking(message: unknown, context: InvocationContext): Promise<void> {
  const result = await trackFromMessage(message, { store: getServices().tracking });
  if (result.outcome === 'rejected') {
    context.warn(`startTracking: message rejected (recorded in RejectedMessages, not retried): ${result.reason}`);
  } else if (result.outcome === 'conflict') {
    context.warn(`startTracking: upgrade ${result.upgradeId} conflicts with what is recorded: ${result.reason}`);
  } else {
    context.log(`startTracking: upgrade ${result.upgradeId} ${result.outcome}`);
  }
}

app.storageQueue('startTracking', {
  queueName: QUEUES.upgradeTracking,
  connection: 'AzureWebJobsStorage',
  handler: startTracking,
});
