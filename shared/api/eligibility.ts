import { dropUndefined } from '../json';
import type { Eligibility } from '../partner-center/types';
import type { Services } from '../services';
import { acceptUpgrade, queueTracker, type EligibilityCheckRecord } from '../tracking';
import type { HttpResponseShape } from '../webhooks';
import type { WebhookCall, WebhookSteps } from './webhook';

export interface EligibilityOutcome {
  eligibility: Eligibility;
  /** What was recorded (and what the eligibility webhook answers): ids lower-cased, with the check time. */
  check: EligibilityCheckRecord;
}

/** Partner Center's eligibility answer: a read, no side effect (so it may run before the delivery is known new). */
export function askEligibility(services: Services, call: WebhookCall): Promise<Eligibility> {
  return services.partnerCenter.checkEligibility(call.body, {
    correlationId: call.correlationId,
    abortSignal: call.abortSignal,
  });
}

function checkFor(call: WebhookCall, eligibility: Eligibility, now: () => number): EligibilityCheckRecord {
  return {
    customerId: call.body.customerId,
    productFamily: call.body.productFamily,
    isEligible: eligibility.isEligible,
    reason: eligibility.reason,
    upgradeId: eligibility.upgradeId?.toLowerCase(),
    checkedAt: new Date(now()).toISOString(),
  };
}

/**
 * Records the check, and accepts for tracking an upgrade Partner Center reports as existing (an upgrade started
 * elsewhere, e.g. in the portal, is followed too).
 */
async function recordEligibility(
  services: Services,
  call: WebhookCall,
  eligibility: Eligibility,
  check: EligibilityCheckRecord,
  source: string,
): Promise<void> {
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
}

/** Asks Partner Center, then records the check (and accepts a reported upgrade). Shared by both webhooks. */
export async function checkAndRecordEligibility(
  services: Services,
  call: WebhookCall,
  source: string,
  now: () => number = Date.now,
): Promise<EligibilityOutcome> {
  const eligibility = await askEligibility(services, call);
  const check = checkFor(call, eligibility, now);
  await recordEligibility(services, call, eligibility, check, source);
  return { eligibility, check };
}

/**
 * POST /api/eligibility: 200 with what Partner Center said. Partner Center is asked while the request's webhook-id
 * is reserved, and the check is recorded while the answer is stored for replay (both withdrawn if the record fails).
 */
export function eligibilityWebhook(services: Services, now: () => number = Date.now): WebhookSteps<Eligibility> {
  return {
    read: (call) => askEligibility(services, call),
    async write(call, eligibility) {
      const check = checkFor(call, eligibility, now);
      const response: HttpResponseShape = {
        status: 200,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
        jsonBody: dropUndefined({ ...check }),
      };
      const landing = recordEligibility(services, call, eligibility, check, 'eligibility');
      // A reported upgrade is tracked before an answer naming it is stored: a crash in between must not leave it
      // untracked behind a replayable answer.
      if (check.upgradeId) {
        await landing;
        return { response };
      }
      return { response, landing };
    },
  };
}
