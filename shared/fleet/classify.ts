import type {
  AzurePlanSubscription,
  Classification,
  CustomerFacts,
  FleetCustomerRecord,
  LegacySubscription,
  NotEligibleReason,
} from './records';

/**
 * What a customer's facts mean, and what an operator can do about it. Pure: the facts in, the state, the reason (for
 * a customer that cannot move), Partner Center's code when it sent one, and the next step in plain words naming the
 * subscriptions and resellers concerned.
 *
 * Partner Center's eligibility answer decides whether a customer can move; the facts only explain a refusal. Its
 * `reason` is free text with no documented values, so a refusal is read in this order: the refusal's code, then the
 * words of the reason, then the facts (a suspended legacy subscription, no attested customer agreement), else
 * `other` with Partner Center's words quoted.
 */

/** Relationships that can transact (only a reseller relationship can, as Partner Center documents). */
export function isAdvisor(relationship: string | undefined): boolean {
  return relationship?.toLowerCase() === 'advisor';
}

/** Legacy subscriptions an upgrade would move: not suspended, not deleted. */
export function movable(legacy: readonly LegacySubscription[]): LegacySubscription[] {
  return legacy.filter((s) => s.status !== 'suspended' && s.status !== 'deleted');
}

/**
 * Whether Partner Center must be asked: the customer has legacy subscriptions, and is not already on an Azure plan
 * with nothing left to move (then the answer is known).
 */
export function needsEligibility(subscriptions: NonNullable<CustomerFacts['subscriptions']>): boolean {
  const live = subscriptions.legacy.filter((s) => s.status !== 'deleted');
  if (live.length === 0) return false;
  return !(subscriptions.azurePlans.length > 0 && movable(live).length === 0);
}

const CODE_REASONS: Readonly<Record<number, NotEligibleReason>> = {
  900105: 'suspended-subscriptions',
  900108: 'no-azure-subscriptions',
  900119: 'partner-shared-services',
  900130: 'bought-recently',
  20002: 'no-relationship',
};

/** Partner Center's wording, as documented for each refusal (case-insensitive; first match wins). */
const TEXT_REASONS: ReadonlyArray<readonly [RegExp, NotEligibleReason]> = [
  [/suspended/i, 'suspended-subscriptions'],
  [/customer agreement/i, 'no-customer-agreement'],
  [/shared services/i, 'partner-shared-services'],
  [/recent/i, 'bought-recently'],
  [/(?:not have|no) (?:any )?azure subscriptions/i, 'no-azure-subscriptions'],
  [/relationship/i, 'no-relationship'],
];

export function notEligibleReason(facts: CustomerFacts): NotEligibleReason {
  const eligibility = facts.eligibility;
  const byCode = eligibility?.code === undefined ? undefined : CODE_REASONS[eligibility.code];
  if (byCode) return byCode;
  const text = eligibility?.reason ?? '';
  const byText = TEXT_REASONS.find(([pattern]) => pattern.test(text))?.[1];
  if (byText) return byText;
  const subscriptions = facts.subscriptions;
  if (subscriptions && subscriptions.azurePlans.length === 0 && subscriptions.legacy.some(isSuspended)) {
    return 'suspended-subscriptions';
  }
  if (facts.agreement === 'not-attested') return 'no-customer-agreement';
  return 'other';
}

function isSuspended(subscription: LegacySubscription): boolean {
  return subscription.status === 'suspended';
}

/** "A, B and C", at most `max` named, then "and N more". */
function names(items: readonly string[], max = 3): string {
  const shown = items.slice(0, max);
  const more = items.length - shown.length;
  if (more > 0) return `${shown.join(', ')} and ${more} more`;
  if (shown.length <= 1) return shown.join('');
  return `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
}

function plural(count: number, one: string, many: string): string {
  return count === 1 ? one : many;
}

function subscriptionName(subscription: LegacySubscription): string {
  const name = subscription.friendlyName ? ` "${subscription.friendlyName}"` : '';
  const reseller = subscription.partnerId ? ` (reseller ${subscription.partnerId})` : '';
  return `${subscription.id}${name}${reseller}`;
}

/** The distinct resellers of record of the subscriptions, sorted. */
export function resellersOf(subscriptions: ReadonlyArray<LegacySubscription | AzurePlanSubscription>): string[] {
  return [...new Set(subscriptions.flatMap((s) => (s.partnerId ? [s.partnerId] : [])))].sort();
}

function notEligibleStep(reason: NotEligibleReason, facts: CustomerFacts): string {
  const said = facts.eligibility?.reason ? ` Partner Center says: "${facts.eligibility.reason}".` : '';
  switch (reason) {
    case 'suspended-subscriptions': {
      const suspended = (facts.subscriptions?.legacy ?? []).filter(isSuspended);
      if (suspended.length === 0) {
        return `A suspended Azure subscription blocks the move: reactivate or cancel it in Partner Center, then scan again.${said}`;
      }
      return (
        `Suspended ${plural(suspended.length, 'subscription', 'subscriptions')} ${names(suspended.map(subscriptionName))} ` +
        `${plural(suspended.length, 'blocks', 'block')} the move: reactivate or cancel ` +
        `${plural(suspended.length, 'it', 'them')}, then scan again.`
      );
    }
    case 'no-customer-agreement':
      return (
        'The customer has not accepted the Microsoft Customer Agreement, which an Azure plan requires: have the ' +
        "customer accept it and record the acceptance in Partner Center (the customer's Account page), then scan again."
      );
    case 'bought-recently':
      return `Azure subscriptions were bought recently, so Partner Center refuses the move for now: the next scan asks again.${said}`;
    case 'partner-shared-services':
      return `An Azure Partner Shared Services customer cannot be moved to an Azure plan this way: nothing to do here.${said}`;
    case 'no-azure-subscriptions':
      return `Partner Center sees no Azure subscription to move: nothing to do.${said}`;
    case 'no-relationship':
      return (
        'Partner Center reports no commerce relationship with this customer: only a reseller relationship can ' +
        `transact, so its reseller (or the customer) must move it.${said}`
      );
    case 'other': {
      const words = facts.eligibility?.reason;
      return `Partner Center refuses the move${words ? `: "${words}"` : ', without a reason'}. Resolve it in Partner Center, then scan again.`;
    }
  }
}

function eligibleStep(facts: CustomerFacts): string {
  const toMove = movable(facts.subscriptions?.legacy ?? []);
  const resellers = resellersOf(toMove);
  const count = `${toMove.length} legacy ${plural(toMove.length, 'subscription', 'subscriptions')}`;
  const target =
    resellers.length > 0
      ? `one Azure plan per reseller of record (${names(resellers, resellers.length)})`
      : 'an Azure plan';
  return `Ready: start the upgrade; ${count} ${plural(toMove.length, 'moves', 'move')} to ${target}.`;
}

export function classify(facts: CustomerFacts): Classification {
  if (isAdvisor(facts.relationship)) {
    return {
      state: 'advisor',
      nextStep:
        'Advisor relationship: the partner cannot transact for this customer; a partner with a reseller relationship must move it.',
    };
  }
  if (facts.failure) {
    const { call, error } = facts.failure;
    return {
      state: 'check-failed',
      nextStep: `Partner Center's ${call} call failed (${error}); the next scan checks this customer again.`,
    };
  }
  const upgradeId = facts.eligibility?.upgradeId;
  if (upgradeId) {
    return {
      state: 'upgrade-in-progress',
      upgradeId,
      nextStep: `Upgrade ${upgradeId} exists; the app tracks it to its end (GET /api/upgrades/${upgradeId}).`,
    };
  }
  const subscriptions = facts.subscriptions;
  if (
    facts.usage === 'none' ||
    (subscriptions && subscriptions.legacy.length + subscriptions.azurePlans.length === 0)
  ) {
    return { state: 'no-azure', nextStep: 'No Azure subscriptions: nothing to move.' };
  }
  if (facts.eligibility === undefined) {
    if (!subscriptions) {
      return { state: 'check-failed', nextStep: 'The customer was not checked; the next scan checks it again.' };
    }
    if (subscriptions.azurePlans.length > 0) {
      return { state: 'on-azure-plan', nextStep: 'Nothing to do: the customer is on an Azure plan.' };
    }
    // Legacy subscriptions all deleted: nothing an upgrade could move.
    return {
      state: 'no-azure',
      nextStep: 'No Azure subscriptions left (the legacy ones are deleted): nothing to move.',
    };
  }
  if (facts.eligibility.isEligible) return { state: 'eligible', nextStep: eligibleStep(facts) };
  const reason = notEligibleReason(facts);
  const code = facts.eligibility.code;
  return {
    state: 'not-eligible',
    reason,
    ...(code === undefined ? {} : { code }),
    nextStep: notEligibleStep(reason, facts),
  };
}

/** The row a customer's facts make in a scan: the facts, what they mean, and the scan that wrote them. */
export function customerRecord(
  facts: CustomerFacts,
  scan: { scanId: string; page: number; scannedAt: string },
): FleetCustomerRecord {
  const meaning = classify(facts);
  const legacy = facts.subscriptions?.legacy ?? [];
  const record: FleetCustomerRecord = {
    customerId: facts.customerId,
    usage: facts.usage,
    subscriptionsRead: facts.subscriptions !== undefined,
    legacySubscriptions: legacy,
    legacyCount: legacy.length,
    azurePlans: facts.subscriptions?.azurePlans ?? [],
    resellers: resellersOf(legacy),
    agreement: facts.agreement,
    state: meaning.state,
    nextStep: meaning.nextStep,
    scanId: scan.scanId,
    scanPage: scan.page,
    scannedAt: scan.scannedAt,
  };
  if (facts.companyName !== undefined) record.companyName = facts.companyName;
  if (facts.domain !== undefined) record.domain = facts.domain;
  if (facts.relationship !== undefined) record.relationship = facts.relationship;
  if (facts.eligibility) record.eligibility = facts.eligibility;
  if (facts.failure) record.failure = facts.failure;
  switch (meaning.state) {
    case 'not-eligible':
      record.reason = meaning.reason;
      if (meaning.code !== undefined) record.code = meaning.code;
      break;
    case 'upgrade-in-progress':
      record.upgradeId = meaning.upgradeId;
      break;
    case 'on-azure-plan':
    case 'eligible':
    case 'advisor':
    case 'no-azure':
    case 'check-failed':
      break;
  }
  return record;
}
