import { problem } from '../http/problem';
import { PartnerCenterError } from '../partner-center';
import type { Services } from '../services';
import { acceptUpgrade, queueTracker, type TrackingMessage, type UpgradeRecord } from '../tracking';
import type { HttpResponseShape } from '../webhooks';
import { checkAndRecordEligibility } from './eligibility';
import { upgradeRepresentation } from './representation';
import type { WebhookCall } from './webhook';

export function upgradeLocation(upgradeId: string): string {
  return `/api/upgrades/${upgradeId}`;
}

/**
 * Accepts the upgrade for tracking (shared/tracking/accept.ts): records it, so `GET /api/upgrades/{id}` answers at
 * once, and sends its tracking message; startTracking, the queue trigger, puts it into the poll schedule. A failed
 * send is only logged: the poll run re-sends the message of an upgrade whose tracking did not start. Returns the
 * upgrade as recorded (read back only when it had been recorded before).
 */
async function accept(
  services: Services,
  message: TrackingMessage,
  log: (m: string) => void,
): Promise<UpgradeRecord | undefined> {
  const accepted = await acceptUpgrade(
    { store: services.tracking, send: queueTracker(services.queues.upgradeTracking) },
    message,
  );
  if (accepted.sendError !== undefined) {
    log(
      `startUpgrade: tracking message for ${message.upgradeId} not sent (the poll run re-sends it): ` +
        (accepted.sendError instanceof Error ? accepted.sendError.message : 'unknown error'),
    );
  }
  if (accepted.outcome === 'recorded') return accepted.record;
  return (await services.tracking.readUpgrade(message.upgradeId))?.record;
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
 * 409 pointing at it, accepted for tracking), then create, accept for tracking, 202 with Location and the upgrade as
 * recorded.
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
      await accept(
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
  const record = await accept(
    services,
    { upgradeId, customerId, productFamily, correlationId: call.correlationId, source: 'start-upgrade' },
    log,
  );
  services.telemetry.event('UpgradeStarted', { upgradeId, customerId, correlationId: call.correlationId });
  if (!record) throw new Error(`upgrade ${upgradeId} was accepted but cannot be read back`);
  return {
    status: 202,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      location: upgradeLocation(upgradeId),
    },
    jsonBody: upgradeRepresentation(record),
  };
}
