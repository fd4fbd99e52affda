import type { TrackingMessage, UpgradeRecord } from './records';
import { newUpgradeRecord, type TrackingSender } from './start-tracking';
import type { TrackingStore } from './store';

export interface AcceptDeps {
  store: TrackingStore;
  /** The tracking message's way to startTracking (production: `queueTracker(upgrade-tracking queue)`). */
  send: TrackingSender;
  now?: () => number;
}

/**
 * `recorded`: this call recorded the upgrade (as `record`); `known`: it was recorded before (accepted or tracked) and
 * this call wrote nothing. `sendError`: why the tracking message could not be sent (the poll run re-sends it later).
 */
export type Accepted = ({ outcome: 'recorded'; record: UpgradeRecord } | { outcome: 'known' }) & {
  sendError?: unknown;
};

/**
 * The one way an upgrade enters tracking, whatever found it (the start webhook, an upgrade eligibility reports):
 * 1. its upgrade row (Pending, not in the poll schedule) and its accepted row, in one transaction — from then on
 *    `GET /api/upgrades/{id}` answers, and the poll run re-sends the tracking message of an accepted row left too
 *    long, so a lost, duplicated or poisoned message loses nothing;
 * 2. its customer index row (insert-only);
 * 3. the tracking message: startTracking, the queue trigger, puts the upgrade into the poll schedule.
 * An upgrade already recorded is left as it is; its message is sent again (startTracking finishes what a crashed
 * first attempt left, or does nothing). A failed send is reported, not thrown.
 */
export async function acceptUpgrade(deps: AcceptDeps, message: TrackingMessage): Promise<Accepted> {
  const { store } = deps;
  const record = newUpgradeRecord(message, (deps.now ?? Date.now)());
  const recorded = await store.insertAccepted(record);
  if (recorded) await store.ensureCustomerIndex(record);
  const accepted: Accepted = recorded ? { outcome: 'recorded', record } : { outcome: 'known' };
  try {
    await deps.send(message);
    return accepted;
  } catch (error) {
    return { ...accepted, sendError: error };
  }
}
