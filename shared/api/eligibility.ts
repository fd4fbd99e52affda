import type { Eligibility } from '../partner-center/types';
import type { Services } from '../services';
import { acceptUpgrade, queueTracker, type EligibilityCheckRecord } from '../tracking';
import type { HttpResponseShape } from '../webhooks';
import { dropUndefined } from './representation';
import type { WebhookCall } from './webhook';

export interface EligibilityOutcome {
  eligibility: Eligibility;
  /** What was recorded (and what the eligibility webhook answers): ids lower-cased, with the check time. */
  check: EligibilityCheckRecord;
}

/**
 * Asks Partner Center, records the check, and accepts for tracking an upgrade Partner Center reports as existing (an
 * upgrade started elsewhere, e.g. in the portal, is followed too). Shared by both webhooks.
 */
export async function checkAndRecordEligibility(
  services: Services,
  call: WebhookCall,
  source: string,
  now: () => number = Date.now,
): Promise<EligibilityOutcome> {
  const eligibility = await services.partnerCenter.checkEligibility(call.body, {
    correlationId: call.correlationId,
    abortSignal: call.abortSignal,
  });
  const check: EligibilityCheckRecord = {
    customerId: call.body.customerId,
    productFamily: call.body.productFamily,
    isEligible: eligibility.isEligible,
    reason: eligibility.reason,
    upgradeId: eligibility.upgradeId?.toLowerCase(),
    checkedAt: new Date(now()).toISOString(),
  };
  await services.tracking.recordEligibilityCheck({ ...check, correlationId: call.correlationId });
  services.telemetry.event(
    'EligibilityChecked',
    dropUndefined({
      customerId: call.body.customerId,
      isEligible: String(eligibility.isEligible),
      reason: eligibility.reason,
      upgradeId: eligibility.upgradeId,
      source,
    }),
  );
  if (check.upgradeId) {
    await acceptUpgrade(
      { store: services.tracking, send: queueTracker(services.queues.upgradeTracking) },
      {
        upgradeId: check.upgradeId,
        customerId: call.body.customerId,
        productFamily: call.body.productFamily,
        correlationId: call.correlationId,
        source,
      },
    );
  }
  return { eligibility, check };
}

/** POST /api/eligibility: 200 with what Partner Center said. */
export async function eligibilityWebhook(services: Services, call: WebhookCall): Promise<HttpResponseShape> {
  const { check } = await checkAndRecordEligibility(services, call, 'eligibility');
  return {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    jsonBody: dropUndefined({ ...check }),
  };
}
