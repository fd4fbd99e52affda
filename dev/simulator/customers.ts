import { createHash } from 'node:crypto';
import { guidFromHex } from '../../shared/ids';
import { INELIGIBILITY, PC_ERRORS, pcError, type PartnerCenterErrorBody, type SimResponse } from './errors';
import type { CustomerSpec, IneligibilityReason, Relationship } from './scenario';
import type { UpgradeRecord, UpgradeStatusValue } from './upgrades';

/**
 * The one customer model behind every route: what a customer's spec and its upgrades mean at a given simulated time
 * — its legacy subscriptions and their state, its Azure plans, its agreement, whether it can be upgraded and why not.
 * The product-upgrade routes, the fleet routes and the admin ground truth all read it from here, so they agree.
 */

/**
 * A stable GUID-shaped id derived from text: the same scenario gives the same ids on every run. Its variant digit is
 * always `a` (the app's `guidFromDigest` takes it from the digest): ids in state files saved by earlier runs stay valid.
 */
export function derivedGuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return guidFromHex(`${h.slice(0, 12)}4${h.slice(13, 16)}a${h.slice(17, 32)}`);
}

/** A stable integer in [0, mod) from text (FNV-1a): per-customer details without a random draw. */
export function stableInt(text: string, mod: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % mod;
}

const DAY_MS = 86_400_000;

export function relationshipOf(spec: CustomerSpec): Relationship {
  return spec.relationship ?? 'reseller';
}

/** Legacy Microsoft Azure subscriptions the customer has (none for "no Azure subscriptions"). */
export function legacyCount(spec: CustomerSpec): number {
  return spec.ineligibleReason === 'noAzureSubscriptions' ? 0 : (spec.legacySubscriptions ?? 1);
}

/** The reseller of record of legacy subscription `index`; undefined for the direct partner's own. */
export function resellerOf(spec: CustomerSpec, index: number): string | undefined {
  const resellers = spec.resellers ?? [];
  return resellers.length === 0 ? undefined : resellers[index % resellers.length];
}

/** One Azure plan per customer (direct) or per reseller (indirect model). */
export function azurePlanId(customerId: string, partnerId: string | undefined): string {
  const key = customerId.toLowerCase();
  return partnerId === undefined ? derivedGuid(`${key}/azure-plan`) : derivedGuid(`${key}/azure-plan/${partnerId}`);
}

export function legacySubscriptionId(customerId: string, index: number): string {
  return derivedGuid(`${customerId.toLowerCase()}/subscription/${index}`);
}

/** Why a customer can or cannot be upgraded right now; the order of the checks is the service's, as simulated. */
export type EligibilityDecision =
  | { kind: 'eligible' }
  /** Not a reseller relationship (an advisor): nothing can be transacted. */
  | { kind: 'noRelationship' }
  /** An upgrade exists and did not fail: its id is the answer. */
  | { kind: 'upgradeExists'; upgradeId: string; status: Exclude<UpgradeStatusValue, 'Failed'> }
  | { kind: 'ineligible'; reason: IneligibilityReason };

export function decideEligibility(
  spec: CustomerSpec,
  latest: { id: string; status: UpgradeStatusValue } | undefined,
): EligibilityDecision {
  if (relationshipOf(spec) !== 'reseller') return { kind: 'noRelationship' };
  // A failed upgrade can be tried again: the customer is eligible once more (a choice; the docs are silent).
  if (latest && latest.status !== 'Failed') {
    return { kind: 'upgradeExists', upgradeId: latest.id, status: latest.status };
  }
  if (spec.ineligibleReason) return { kind: 'ineligible', reason: spec.ineligibleReason };
  return { kind: 'eligible' };
}

/** What a create answers for a customer that cannot be upgraded now; undefined when it can be. */
export function createRefusal(decision: EligibilityDecision): SimResponse | undefined {
  switch (decision.kind) {
    case 'eligible':
      return undefined;
    case 'noRelationship':
      return PC_ERRORS.noRelationship();
    case 'upgradeExists':
      return decision.status === 'Completed'
        ? PC_ERRORS.upgradeCompleted(decision.upgradeId)
        : PC_ERRORS.upgradeInProgress(decision.upgradeId);
    case 'ineligible': {
      const { code, text } = INELIGIBILITY[decision.reason];
      return pcError(403, code, text);
    }
  }
}

/** The Partner Center error code a create would answer (none when eligible). */
export function decisionCode(decision: EligibilityDecision): number | undefined {
  return (createRefusal(decision)?.body as PartnerCenterErrorBody | undefined)?.code;
}

/** A name for the decision: the ineligibility reason, or what stands in the way. */
export function decisionReason(decision: EligibilityDecision): string | undefined {
  switch (decision.kind) {
    case 'eligible':
      return undefined;
    case 'noRelationship':
      return 'advisorRelationship';
    case 'upgradeExists':
      return decision.status === 'Completed' ? 'alreadyUpgraded' : 'upgradeInProgress';
    case 'ineligible':
      return decision.reason;
  }
}

export interface LegacySubscriptionFact {
  index: number;
  id: string;
  /** The Azure subscription id. */
  entitlementId: string;
  status: 'active' | 'suspended';
  partnerId?: string;
  createdAt: number;
}

export interface AzurePlanFact {
  id: string;
  partnerId?: string;
  /** When the first subscription moved under it. */
  createdAt: number;
}

export interface CustomerFacts {
  relationship: Relationship;
  legacy: LegacySubscriptionFact[];
  azurePlans: AzurePlanFact[];
  /** An attested Microsoft Customer Agreement. */
  agreementAttested: boolean;
}

/** Legacy subscription id → when an upgrade's line item moved it under an Azure plan (Completed line items only). */
function movedSubscriptions(
  upgrades: readonly UpgradeRecord[],
  now: number,
): Map<string, { at: number; plan: string }> {
  const moved = new Map<string, { at: number; plan: string }>();
  for (const upgrade of upgrades) {
    for (const item of upgrade.lineItems) {
      if (item.fails || item.doneAt > now || moved.has(item.sourceId)) continue;
      moved.set(item.sourceId, { at: item.doneAt, plan: item.targetId ?? upgrade.targetId });
    }
  }
  return moved;
}

/** True once any line item of any upgrade completed: the customer has an Azure plan (`isUpgraded`). Cheap. */
export function hasAzurePlan(upgrades: readonly UpgradeRecord[], now: number): boolean {
  return upgrades.some((upgrade) => upgrade.lineItems.some((item) => !item.fails && item.doneAt <= now));
}

/**
 * The customer's subscriptions and agreement at `now`. `start` is the scenario's start (creation dates are set
 * before it). A legacy subscription is suspended when its reason says so, or once an upgrade moved it under an
 * Azure plan (the plan appears with the first subscription moved); failed line items change nothing.
 */
export function customerFacts(
  spec: CustomerSpec,
  upgrades: readonly UpgradeRecord[],
  now: number,
  start: number,
): CustomerFacts {
  const key = spec.id.toLowerCase();
  const moved = movedSubscriptions(upgrades, now);
  const legacy: LegacySubscriptionFact[] = [];
  for (let index = 0; index < legacyCount(spec); index++) {
    const id = legacySubscriptionId(key, index);
    const ageDays =
      spec.ineligibleReason === 'boughtRecently'
        ? 1 + stableInt(`${key}/${index}`, 5)
        : 200 + stableInt(`${key}/${index}`, 2000);
    const fact: LegacySubscriptionFact = {
      index,
      id,
      entitlementId: derivedGuid(`${key}/entitlement/${index}`),
      // The first subscription of a "suspended subscriptions" customer is the suspended one.
      status:
        moved.has(id) || (spec.ineligibleReason === 'suspendedSubscriptions' && index === 0) ? 'suspended' : 'active',
      createdAt: start - ageDays * DAY_MS,
    };
    const partnerId = resellerOf(spec, index);
    if (partnerId !== undefined) fact.partnerId = partnerId;
    legacy.push(fact);
  }
  const plans = new Map<string, AzurePlanFact>();
  for (const fact of legacy) {
    const move = moved.get(fact.id);
    if (!move) continue;
    const plan = plans.get(move.plan);
    if (plan) plan.createdAt = Math.min(plan.createdAt, move.at);
    else
      plans.set(move.plan, {
        id: move.plan,
        ...(fact.partnerId ? { partnerId: fact.partnerId } : {}),
        createdAt: move.at,
      });
  }
  return {
    relationship: relationshipOf(spec),
    legacy,
    azurePlans: [...plans.values()],
    agreementAttested: relationshipOf(spec) === 'reseller' && spec.ineligibleReason !== 'noCustomerAgreement',
  };
}
