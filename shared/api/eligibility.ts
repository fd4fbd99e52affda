import type { Eligibility } from '../partner-center/types';
import type { Services } from '../services';
import { trackUpgrade } from '../tracking';
import type { HttpResponseShape } from '../webhooks';
import { dropUndefined } from './representation';
import type { WebhookCall } from './webhook';

export interface EligibilityOutcome {
  eligibility: Eligibility;
  checkedAt: string;
}

/**
 * Asks Partner Center, records the check, and starts tracking an upgrade Partner Center reports as existing (an
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
  const checkedAt = new Date(now()).toISOString();
  await services.tracking.recordEligibilityCheck({
    customerId: call.body.customerId,
    productFamily: call.body.productFamily,
    isEligible: eligibility.isEligible,
    reason: eligibility.reason,
    upgradeId: eligibility.upgradeId?.toLowerCase(),
    checkedAt,
    correlationId: call.correlationId,
  });
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
  if (eligibility.upgradeId) {
    await trackUpgrade(
      {
        upgradeId: eligibility.upgradeId.toLowerCase(),
        customerId: call.body.customerId,
        productFamily: call.body.productFamily,
        correlationId: call.correlationId,
        source,
      },
      { store: services.tracking },
    );
  }
  return { eligibility, checkedAt };
}

/** POST /api/eligibility: 200 with what Partner Center said. */
export async function eligibilityWebhook(services: Services, call: WebhookCall): Promise<HttpResponseShape> {
  const { eligibility, checkedAt } = await checkAndRecordEligibility(services, call, 'eligibility');
  return {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    jsonBody: dropUndefined({
      customerId: call.body.customerId,
      productFamily: call.body.productFamily,
      isEligible: eligibility.isEligible,
      reason: eligibility.reason,
      upgradeId: eligibility.upgradeId?.toLowerCase(),
      checkedAt,
    }),
  };
}
