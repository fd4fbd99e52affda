import type {
  CallOptions,
  Customer,
  CustomerDirectory,
  CustomerSubscription,
  ProductUpgrades,
} from '../partner-center/types';
import { asPartnerCenterError, describeError } from '../tracking/errors';
import { isAdvisor } from './classify';
import type { CallKind, CustomerFacts, EligibilityFact, LegacySubscription, UsageTriage } from './records';

/**
 * What the scan asks Partner Center about one customer — only what is not known already:
 * - an advisor: nothing (it cannot be transacted on);
 * - no usage record: nothing (no Azure at all: usage records list every customer with Azure);
 * - an Azure plan (`isUpgraded`): its subscriptions (legacy ones still to move?); the customer agreement is implied
 *   (an Azure plan is sold only under it);
 * - legacy Azure: its subscriptions and its customer agreement, side by side;
 * - then, when legacy subscriptions remain to move, eligibility (`askEligibility`), last, so that the answer is
 *   written before any other side effect of the scan (scan-run.ts).
 */

/** The run stopped (time budget, shutdown, credentials, lost lease): the customer is left for the next run. */
export class ScanStopped extends Error {
  constructor(readonly reason: string) {
    super(`the scan run stopped (${reason})`);
    this.name = 'ScanStopped';
  }
}

/** One Partner Center call of the scan (through the shared gate); throws the call's failure, or ScanStopped. */
export type ScanCall = <T>(kind: CallKind, send: (options: CallOptions) => Promise<T>) => Promise<T>;

export interface FactSources {
  directory: CustomerDirectory;
  upgrades: ProductUpgrades;
  call: ScanCall;
}

export const PRODUCT_FAMILY = 'Azure';

/** What the listing says of a customer (no call). */
export function listedFacts(customer: Customer, usage: UsageTriage): CustomerFacts {
  const facts: CustomerFacts = { customerId: customer.id, usage, agreement: 'not-checked' };
  if (customer.companyName) facts.companyName = customer.companyName;
  if (customer.domain) facts.domain = customer.domain;
  if (customer.relationshipToPartner) facts.relationship = customer.relationshipToPartner.toLowerCase();
  return facts;
}

/**
 * A failed call, as facts: a business-rule refusal (a code such as 20002 "no commerce relationship") or a conflict
 * naming an existing upgrade is Partner Center's answer about the customer; anything else is a failure to record.
 */
function answerOrFailure(kind: CallKind, error: unknown): Pick<CustomerFacts, 'eligibility' | 'failure'> {
  if (error instanceof ScanStopped) throw error;
  const refusal = refusalOf(error);
  if (refusal) return { eligibility: refusal };
  const pc = asPartnerCenterError(error);
  const code = pc?.code === undefined ? undefined : Number(pc.code);
  const described = describeError(error);
  const failure: NonNullable<CustomerFacts['failure']> = {
    call: kind,
    category: described.category,
    error: described.text,
  };
  if (code !== undefined && Number.isFinite(code)) failure.code = code;
  return { failure };
}

/**
 * Partner Center's answer about the customer in a failed call, as an eligibility fact: a business-rule refusal (a code
 * such as 900105 "suspended subscriptions"), or a conflict naming an existing upgrade (900109). Undefined for any other
 * failure (throttling, an outage, a refused credential, bad input).
 */
export function refusalOf(error: unknown): EligibilityFact | undefined {
  const pc = asPartnerCenterError(error);
  const existing = (error as { existingUpgradeId?: unknown } | undefined)?.existingUpgradeId;
  if (!(pc?.category === 'business-rule' || (pc?.category === 'conflict' && typeof existing === 'string'))) {
    return undefined;
  }
  return refusalFact(error);
}

/**
 * A failed call as a "not eligible" fact: Partner Center's code and description, and the upgrade it names (900109),
 * whatever its category (the caller decides which failures are the customer's state).
 */
export function refusalFact(error: unknown): EligibilityFact {
  const pc = asPartnerCenterError(error);
  const existing = (error as { existingUpgradeId?: unknown } | undefined)?.existingUpgradeId;
  const code = pc?.code === undefined ? undefined : Number(pc.code);
  const description = (error as { description?: unknown }).description;
  const refusal: EligibilityFact = { isEligible: false };
  if (typeof description === 'string' && description !== '') refusal.reason = description;
  if (code !== undefined && Number.isFinite(code)) refusal.code = code;
  if (typeof existing === 'string') refusal.upgradeId = existing.toLowerCase();
  return refusal;
}

function legacyOf(subscription: CustomerSubscription): LegacySubscription {
  const legacy: LegacySubscription = { id: subscription.id, status: subscription.status };
  if (subscription.partnerId) legacy.partnerId = subscription.partnerId;
  if (subscription.entitlementId) legacy.entitlementId = subscription.entitlementId.toLowerCase();
  if (subscription.friendlyName) legacy.friendlyName = subscription.friendlyName;
  return legacy;
}

/** The customer's facts up to (not including) eligibility. */
export async function readFacts(customer: Customer, usage: UsageTriage, sources: FactSources): Promise<CustomerFacts> {
  const facts = listedFacts(customer, usage);
  if (isAdvisor(facts.relationship) || usage === 'none') return facts;
  const { directory, call } = sources;
  const subscriptions = call('subscriptions', (options) => directory.getCustomerSubscriptions(customer.id, options));
  const agreements =
    usage === 'legacy'
      ? call('agreements', (options) => directory.getCustomerAgreements(customer.id, options))
      : Promise.resolve(undefined);
  const [subscriptionsRead, agreementsRead] = await Promise.allSettled([subscriptions, agreements]);
  for (const settled of [subscriptionsRead, agreementsRead]) {
    if (settled.status === 'rejected' && settled.reason instanceof ScanStopped) throw settled.reason;
  }
  if (subscriptionsRead.status === 'rejected')
    return { ...facts, ...answerOrFailure('subscriptions', subscriptionsRead.reason) };
  if (agreementsRead.status === 'rejected')
    return { ...facts, ...answerOrFailure('agreements', agreementsRead.reason) };
  facts.subscriptions = {
    legacy: subscriptionsRead.value.legacy.map(legacyOf),
    azurePlans: subscriptionsRead.value.azurePlans.map((plan) => ({
      id: plan.id,
      status: plan.status,
      ...(plan.partnerId ? { partnerId: plan.partnerId } : {}),
    })),
  };
  if (agreementsRead.value !== undefined) {
    facts.agreement = agreementsRead.value.length > 0 ? 'attested' : 'not-attested';
  } else if (facts.subscriptions.azurePlans.length > 0) {
    facts.agreement = 'implied-by-azure-plan';
  }
  return facts;
}

/** Partner Center's eligibility for a customer whose facts say it must be asked. */
export async function askEligibility(facts: CustomerFacts, sources: FactSources): Promise<CustomerFacts> {
  try {
    const answer = await sources.call('eligibility', (options) =>
      sources.upgrades.checkEligibility({ customerId: facts.customerId, productFamily: PRODUCT_FAMILY }, options),
    );
    const eligibility: EligibilityFact = { isEligible: answer.isEligible };
    if (answer.reason) eligibility.reason = answer.reason;
    if (answer.upgradeId) eligibility.upgradeId = answer.upgradeId.toLowerCase();
    return { ...facts, eligibility };
  } catch (error) {
    return { ...facts, ...answerOrFailure('eligibility', error) };
  }
}
