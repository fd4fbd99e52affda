import type { FleetCustomerRecord, FleetState, NotEligibleReason } from './records';
import { MAX_WAVE_MEMBERS, type WaveSelection } from './wave-records';

/**
 * Who a wave would move and who it leaves out, and why — pure: the request, the scan's rows and the customers other
 * waves have not settled yet, in; the plan out. A dry run answers with it; a creation writes it.
 */

/** The members asked for: explicit customers, or a selection from the scan's rows. */
export type WaveMembersRequest =
  | { kind: 'customers'; customerIds: string[] }
  | { kind: 'select'; state: 'eligible'; resellerMpnId?: string; limit: number };

export interface WaveRequest {
  members: WaveMembersRequest;
  /** Customers started per minute; default WAVE_CREATES_PER_MINUTE. */
  createsPerMinute?: number;
}

/** A customer the wave leaves out: what the scan found (or that it found nothing), and what to do about it. */
export interface Exclusion {
  customerId: string;
  /** The scan's state for the customer, or why the scan's answer is not the point. */
  state: Exclude<FleetState, 'eligible'> | 'unknown-customer' | 'in-another-wave';
  reason?: NotEligibleReason;
  code?: number;
  upgradeId?: string;
  /** The wave the customer is in (`in-another-wave`). */
  waveId?: string;
  nextStep: string;
  /** When the scan saw it. */
  scannedAt?: string;
}

export interface PlannedMember {
  customerId: string;
  companyName?: string;
}

export interface WavePlan {
  members: PlannedMember[];
  excluded: Exclusion[];
  /** Eligible customers the selection matched beyond its limit (left for a later wave). */
  notSelected: number;
  selection: WaveSelection;
}

function exclusionOf(row: FleetCustomerRecord): Exclusion {
  const exclusion: Exclusion = {
    customerId: row.customerId,
    state: row.state as Exclusion['state'],
    nextStep: row.nextStep,
    scannedAt: row.scannedAt,
  };
  if (row.reason !== undefined) exclusion.reason = row.reason;
  if (row.code !== undefined) exclusion.code = row.code;
  if (row.upgradeId !== undefined) exclusion.upgradeId = row.upgradeId;
  return exclusion;
}

function planned(row: FleetCustomerRecord): PlannedMember {
  return row.companyName === undefined
    ? { customerId: row.customerId }
    : { customerId: row.customerId, companyName: row.companyName };
}

function busyExclusion(customerId: string, waveId: string, row?: FleetCustomerRecord): Exclusion {
  return {
    customerId,
    state: 'in-another-wave',
    waveId,
    nextStep: `The customer is in wave ${waveId}, not settled yet: wait for that wave to end (GET /api/fleet/waves/${waveId}).`,
    ...(row ? { scannedAt: row.scannedAt } : {}),
  };
}

/**
 * The plan of a wave. `rows`: the scan's rows of the customers concerned (for a selection, every row of the state
 * selected, in customer id order); `busy`: customer id → the unfinished wave that has not settled it yet.
 */
export function planWave(
  request: WaveMembersRequest,
  rows: ReadonlyMap<string, FleetCustomerRecord>,
  busy: ReadonlyMap<string, string>,
): WavePlan {
  const members: PlannedMember[] = [];
  const excluded: Exclusion[] = [];
  switch (request.kind) {
    case 'customers': {
      for (const customerId of request.customerIds) {
        const row = rows.get(customerId);
        const inWave = busy.get(customerId);
        if (inWave !== undefined) excluded.push(busyExclusion(customerId, inWave, row));
        else if (!row) {
          excluded.push({
            customerId,
            state: 'unknown-customer',
            nextStep:
              'The last completed scan did not list this customer: check the id, or scan the fleet, then try again.',
          });
        } else if (row.state !== 'eligible') excluded.push(exclusionOf(row));
        else members.push(planned(row));
      }
      return { members, excluded, notSelected: 0, selection: { kind: 'customers', count: request.customerIds.length } };
    }
    case 'select': {
      let notSelected = 0;
      const mpn = request.resellerMpnId;
      const ids = [...rows.keys()].sort();
      for (const id of ids) {
        const row = rows.get(id)!;
        if (row.state !== request.state) continue;
        if (mpn !== undefined && !row.resellers.includes(mpn)) continue;
        const inWave = busy.get(id);
        if (inWave !== undefined) excluded.push(busyExclusion(id, inWave, row));
        else if (members.length < Math.min(request.limit, MAX_WAVE_MEMBERS)) members.push(planned(row));
        else notSelected++;
      }
      const selection: WaveSelection = {
        kind: 'select',
        state: request.state,
        limit: request.limit,
        ...(mpn === undefined ? {} : { resellerMpnId: mpn }),
      };
      return { members, excluded, notSelected, selection };
    }
  }
}
