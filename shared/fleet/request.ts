import { randomUUID } from 'node:crypto';
import { decideRequest, type RequestResult } from './scan-state';
import type { FleetStore } from './store';

/**
 * Asks for a scan now (the operator's "scan the fleet"): a new scan, recorded as requested, or the one not finished
 * yet (`exists`: one scan at a time). Nothing calls Partner Center here: the next timer run starts it, within the
 * background budget.
 */
export function requestFleetScan(store: FleetStore, now: () => number = Date.now): Promise<RequestResult> {
  const scanId = randomUUID();
  return store.updateSlot((slot) => decideRequest(slot, { scanId, trigger: 'on-demand', now: now() }));
}
