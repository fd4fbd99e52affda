import { problem } from '../http/problem';
import { PartnerCenterError } from '../partner-center';
import { sendQueueMessage } from '../queues/producer';
import type { Services } from '../services';
import { trackUpgrade, type TrackingMessage } from '../tracking';
import type { HttpResponseShape } from '../webhooks';
import { checkAndRecordEligibility } from './eligibility';
import { upgradeRepresentation } from './representation';
import type { WebhookCall } from './webhook';

export function upgradeLocation(upgradeId: string): string {
  return `/api/upgrades/${upgradeId}`;
}

/**
 * Records the upgrade (due for its first poll now) and enqueues its tracking message. The table write comes first
 * and is what makes the upgrade impossible to lose; the message is the design's wake-up signal for startTracking
 * and a duplicate of it changes nothing. A failed enqueue is only logged: the upgrade is already scheduled.
 */
async function recordAndEnqueue(services: Services, message: TrackingMessage, log: (m: string) => void): Promise<void> {
  await trackUpgrade(message, { store: services.tracking });
  try {
    await sendQueueMessage(services.queues.upgradeTracking, message);
  } catch (error) {
    log(`startUpgrade: tracking message for ${message.upgradeId} not enqueued (already scheduled): ${String(error)}`);
  }
}

function existingUpgrade(upgradeId: string, instance: string, detail: string): HttpResponseShape {
  const response = problem(409, 'conflict', 'The customer already has an upgrade', {
    detail,
    instance,
    upgradeId,
  });
  return { ...response, headers: { ...response.headers, location: upgradeLocation(upgradeId) } };
}

/**
 * POST /api/upgrades: eligibility first (not eligible → 422 with Partner Center's reason; an existing upgrade →
 * 409 pointing at it, tracked), then create, record, enqueue, 202 with Location.
 */
export async function startUpgradeWebhook(
  services: Services,
  call: WebhookCall,
  instance: string,
  log: (message: string) => void,
): Promise<HttpResponseShape> {
  const { customerId, productFamily } = call.body;
  const { eligibility } = await checkAndRecordEligibility(services, call, 'start-upgrade');
  if (eligibility.upgradeId) {
    return existingUpgrade(
      eligibility.upgradeId.toLowerCase(),
      instance,
      'Partner Center reports an upgrade for this customer; it is tracked at the Location given.',
    );
  }
  if (!eligibility.isEligible) {
    return problem(422, 'not-eligible', 'The customer is not eligible for an upgrade', {
      detail: eligibility.reason ?? 'Partner Center gave no reason.',
      instance,
      reason: eligibility.reason,
    });
  }
  let upgradeId: string;
  try {
    const created = await services.partnerCenter.createUpgrade(call.body, {
      correlationId: call.correlationId,
      abortSignal: call.abortSignal,
      requestId: call.stableRequestId,
    });
    upgradeId = created.upgradeId.toLowerCase();
  } catch (error) {
    // 900109: an upgrade started between our eligibility check and the create; Partner Center names it.
    if (error instanceof PartnerCenterError && error.category === 'conflict' && error.existingUpgradeId) {
      const existingId = error.existingUpgradeId.toLowerCase();
      await recordAndEnqueue(
        services,
        {
          upgradeId: existingId,
          customerId,
          productFamily,
          correlationId: call.correlationId,
          source: 'start-upgrade',
        },
        log,
      );
      return existingUpgrade(existingId, instance, error.description);
    }
    throw error;
  }
  await recordAndEnqueue(
    services,
    { upgradeId, customerId, productFamily, correlationId: call.correlationId, source: 'start-upgrade' },
    log,
  );
  services.telemetry.event('UpgradeStarted', { upgradeId, customerId, correlationId: call.correlationId });
  const view = await services.tracking.getUpgrade(upgradeId);
  return {
    status: 202,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      location: upgradeLocation(upgradeId),
    },
    jsonBody: view
      ? upgradeRepresentation(view)
      : {
          upgradeId,
          customerId,
          productFamily,
          status: 'Pending',
          isFinal: false,
          createdAt: new Date().toISOString(),
        },
  };
}
