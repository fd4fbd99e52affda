import { guidFromDigest } from '../ids';
import { asPartnerCenterError, describeError } from '../tracking/errors';
import type { UpgradeStatus } from '../tracking/state';
import { classify } from './classify';
import { refusalFact, refusalOf } from './facts';
import type { CustomerFacts, EligibilityFact, FleetCustomerRecord } from './records';
import type { MemberSkip, WaveMember } from './wave-records';

/**
 * What happens to one member, as pure decisions: what its re-check right before the create means, what the create's
 * answer means, and the member row after each step. The runner (wave-run.ts) makes the calls and writes the rows.
 */

/** Tries to start a customer (Partner Center busy or failing for it) before the member is `create-failed`. */
export const MAX_START_ATTEMPTS = 3;

/**
 * The MS-RequestId of a member's create: derived from the wave and the customer, so every try of it — after a
 * timeout, a 5xx, or a run that died after sending it — is the same logical call, and Partner Center answers a repeat
 * with the upgrade the first one made instead of making a second.
 */
export function createRequestId(waveId: string, customerId: string): string {
  return guidFromDigest(`wave-create|${waveId.toLowerCase()}|${customerId.toLowerCase()}`);
}

/** What the scan knew of the customer, as the facts its re-check is read against (the subscriptions name the cause). */
export function factsOfRow(customerId: string, row: FleetCustomerRecord | undefined): CustomerFacts {
  if (!row) return { customerId, usage: 'legacy', agreement: 'not-checked' };
  const facts: CustomerFacts = { customerId, usage: row.usage, agreement: row.agreement };
  if (row.companyName !== undefined) facts.companyName = row.companyName;
  if (row.relationship !== undefined) facts.relationship = row.relationship;
  if (row.subscriptionsRead) facts.subscriptions = { legacy: row.legacySubscriptions, azurePlans: row.azurePlans };
  return facts;
}

/** A failure as a member records it (`describeError`): category, Partner Center's code, the description for operators. */
export type MemberFailure = NonNullable<WaveMember['lastError']>;

/** What a member's next step is, from Partner Center's latest word on the customer. */
export type MemberVerdict =
  /** Eligible: create (again, with the same request id, if an earlier try may have been sent). */
  | { kind: 'create' }
  /** An upgrade exists: hand it to the tracking, no create. */
  | { kind: 'hand-over'; upgradeId: string }
  /** It cannot move now: skipped, with the reason and the next step. */
  | { kind: 'skip'; skip: MemberSkip }
  /** Partner Center did not answer for now: tried again later (up to MAX_START_ATTEMPTS). */
  | { kind: 'retry'; failure: MemberFailure }
  /** A failure that asking again will not mend (bad input, not found): the member failed. */
  | { kind: 'fail'; failure: MemberFailure };

/** The eligibility answer (or refusal) of the re-check, read with what the scan knew: classify decides. */
export function decideRecheck(facts: CustomerFacts, eligibility: EligibilityFact): MemberVerdict {
  const meaning = classify({ ...facts, eligibility });
  switch (meaning.state) {
    case 'eligible':
      return { kind: 'create' };
    case 'upgrade-in-progress':
      return { kind: 'hand-over', upgradeId: meaning.upgradeId };
    case 'check-failed':
      return { kind: 'retry', failure: { category: 'internal', text: meaning.nextStep } };
    case 'not-eligible':
      return {
        kind: 'skip',
        skip: {
          state: 'not-eligible',
          reason: meaning.reason,
          ...(meaning.code === undefined ? {} : { code: meaning.code }),
          nextStep: meaning.nextStep,
        },
      };
    case 'on-azure-plan':
    case 'advisor':
    case 'no-azure':
      return { kind: 'skip', skip: { state: meaning.state, nextStep: meaning.nextStep } };
  }
}

/**
 * A call's failure, read as Partner Center's answer about the customer when it is one (a refusal, an upgrade that
 * exists), else as a failure to try again (busy, unreachable) or to give up on (anything else). `auth` failures never
 * reach here: they stop the run.
 */
export function decideFailure(facts: CustomerFacts, error: unknown): MemberVerdict {
  const refusal = refusalOf(error);
  if (refusal) return decideRecheck(facts, refusal);
  const failure: MemberFailure = describeError(error);
  const category = asPartnerCenterError(error)?.category;
  if (category === 'throttled' || category === 'transient') return { kind: 'retry', failure };
  if (category === 'conflict') {
    // 900110 (already completed), 900112–900114 (a purchase blocked by an upgrade): the customer's state, not ours.
    return decideRecheck(facts, refusalFact(error));
  }
  return { kind: 'fail', failure };
}

/** One step of a member's life. */
export type MemberStep =
  | { kind: 'creating' }
  | { kind: 'handed-over'; upgradeId: string }
  | { kind: 'skipped'; skip: MemberSkip }
  | { kind: 'failed-try'; failure: MemberFailure }
  | { kind: 'failed'; failure: MemberFailure }
  /** A `creating` member of a wave that no longer starts customers, whose re-check found no upgrade: never started. */
  | { kind: 'not-started' }
  | { kind: 'upgrade-status'; status: UpgradeStatus };

/** The member row after a step. */
export function memberAfter(member: WaveMember, step: MemberStep, now: number): WaveMember {
  const updatedAt = new Date(now).toISOString();
  switch (step.kind) {
    case 'creating':
      return { ...member, status: 'creating', updatedAt };
    case 'handed-over':
      return { ...member, status: 'handed-over', upgradeId: step.upgradeId, updatedAt };
    case 'skipped':
      return { ...member, status: 'skipped', skip: step.skip, updatedAt };
    case 'failed-try': {
      const attempts = member.attempts + 1;
      const status = attempts >= MAX_START_ATTEMPTS ? 'create-failed' : member.status;
      return { ...member, status, attempts, lastError: step.failure, updatedAt };
    }
    case 'failed':
      return { ...member, status: 'create-failed', attempts: member.attempts + 1, lastError: step.failure, updatedAt };
    case 'not-started':
      return { ...member, status: 'pending', updatedAt };
    case 'upgrade-status':
      return { ...member, upgradeStatus: step.status, updatedAt };
  }
}
