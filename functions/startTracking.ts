import { app, type InvocationContext } from '@azure/functions';
import { getServices } from '../shared/services';
import { QUEUES } from '../shared/storage/names';
import { startTracking as trackFromMessage } from '../shared/tracking';

/**
 * Queue trigger: start tracking the upgrade the message names — put it into the poll schedule, its first poll due
 * after POLL_FIRST_DELAY_SECONDS. An upgrade this app did not record first is verified with Partner Center (one
 * status call) before anything is written. Storage errors and Partner Center outages throw (the queue retries).
 */
export async function startTracking(message: unknown, context: InvocationContext): Promise<void> {
  const services = getServices();
  const result = await trackFromMessage(message, {
    store: services.tracking,
    firstPollDelayMs: services.config.poll.firstDelayMs,
    partnerCenter: services.partnerCenter,
  });
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
