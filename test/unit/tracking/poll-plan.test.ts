import type { UpgradeStatusResult } from '../../../shared/partner-center/types';
import { pollStateOf, scheduleRowKey } from '../../../shared/tracking/entities';
import { digestKey } from '../../../shared/tracking/keys';
import { notificationEventId } from '../../../shared/callbacks/events';
import { commitOf, planPoll, type PollOutcome } from '../../../shared/tracking/poll-plan';
import type { PollState } from '../../../shared/tracking/records';
import type { ScheduleConfig } from '../../../shared/tracking/schedule';
import { newUpgradeRecord } from '../../../shared/tracking/start-tracking';

const T0 = Date.parse('2026-05-01T00:00:00.000Z');
const MINUTE = 60_000;
const config: ScheduleConfig = {
  firstDelayMs: 0,
  minIntervalMs: MINUTE,
  maxIntervalMs: 30 * MINUTE,
  maxAgeMs: 30 * 86_400_000,
};
const noJitter = () => 0;
const upgradeId = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
const customerId = '0a1b2c3d-4e5f-6789-abcd-ef0123456789';
const fresh: PollState = pollStateOf(newUpgradeRecord({ upgradeId, customerId, productFamily: 'Azure' }, T0));

const items = [
  {
    sourceProduct: { id: 'legacy-1', name: 'Microsoft Azure (MS-AZR-0145P)' },
    targetProduct: { id: 'DZH318Z0BCZC', name: 'Azure plan' },
    status: 'inProgress',
  },
];

function observed(status: UpgradeStatusResult['status'], lineItems = items): PollOutcome {
  const rawStatus = status.charAt(0).toLowerCase() + status.slice(1);
  return {
    kind: 'observed',
    result: { upgradeId, productFamily: 'Azure', status, rawStatus, isTerminal: false, lineItems },
  };
}

/** Freezes a value deeply: planning must not change its inputs. */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) frozen(inner);
    Object.freeze(value);
  }
  return value;
}

describe('planPoll (pure)', () => {
  it('a change: history row, unchanged count reset, next poll after the backoff, the state carried on', () => {
    const at = T0 + MINUTE;
    const plan = planPoll(frozen({ ...fresh }), frozen(observed('InProgress')), at, config, noJitter);
    expect(plan).toMatchObject({ kind: 'reschedule', dueAt: at + MINUTE, statusChanged: true, from: 'Pending' });
    expect(plan.history).toEqual({
      sequence: 1,
      observedAt: new Date(at).toISOString(),
      status: 'InProgress',
      rawStatus: 'inProgress',
      lineItems: items,
      lineItemCount: 1,
      errorDetails: undefined,
    });
    expect(plan.state).toEqual({
      ...fresh,
      status: 'InProgress',
      rawStatus: 'inProgress',
      statusRank: 2,
      observedAt: new Date(at).toISOString(),
      pollCount: 1,
      unchangedPolls: 0,
      historySeq: 1,
      lineItemCount: 1,
      lineItemsDigest: digestKey(JSON.stringify(items)),
    });
    expect(plan.upgrade).toMatchObject({
      status: 'InProgress',
      lineItems: items,
      lastPolledAt: new Date(at).toISOString(),
      nextPollAt: new Date(at + MINUTE).toISOString(),
      scheduleKey: scheduleRowKey(at + MINUTE, upgradeId),
    });
  });

  it('no change: no history row, and the next poll backs off one more step', () => {
    const first = planPoll(fresh, observed('InProgress'), T0 + MINUTE, config, noJitter);
    const again = planPoll(first.state, observed('InProgress'), T0 + 2 * MINUTE, config, noJitter);
    expect(again).toMatchObject({ kind: 'reschedule', statusChanged: false, dueAt: T0 + 4 * MINUTE });
    expect(again.history).toBeUndefined();
    expect(again.state).toMatchObject({ unchangedPolls: 1, pollCount: 2, historySeq: 1 });
  });

  it('a failure: attempts and the error recorded, no poll counted, Retry-After as the floor of the next poll', () => {
    const failure: PollOutcome = {
      kind: 'failed',
      category: 'throttled',
      error: 'HTTP 429',
      retryAfterMs: 10 * MINUTE,
    };
    const plan = planPoll(frozen({ ...fresh }), failure, T0, config, noJitter);
    expect(plan).toMatchObject({ kind: 'reschedule', dueAt: T0 + 10 * MINUTE, statusChanged: false });
    expect(plan.history).toBeUndefined();
    expect(plan.state).toMatchObject({ attempts: 1, pollCount: 0, status: 'Pending' });
    expect(plan.upgrade).toMatchObject({ lastError: 'HTTP 429', lastErrorCategory: 'throttled' });
    expect(plan.upgrade).not.toHaveProperty('lineItems');
  });

  it('a final status: the notification planned with its fixed event id; the commit depends on whether it went out', () => {
    const at = T0 + 5 * MINUTE;
    const plan = planPoll(fresh, observed('Completed'), at, config, noJitter);
    if (plan.kind !== 'finish') throw new Error('expected a finish');
    expect(plan).toMatchObject({ becameFinal: true, statusChanged: true });
    expect(plan.notification).toEqual({
      eventId: notificationEventId(upgradeId, 'Completed'),
      event: 'upgrade.completed',
      upgradeId,
      customerId,
      status: 'Completed',
      completedAt: new Date(at).toISOString(),
    });
    const rowKey = scheduleRowKey(T0, upgradeId);
    // Sent: the upgrade leaves the schedule, marked notified.
    expect(commitOf(plan, rowKey, at + 1)).toMatchObject({
      schedule: { kind: 'leave' },
      upgrade: { scheduleKey: '', notifiedAt: new Date(at + 1).toISOString(), nextPollAt: undefined },
    });
    // Not sent: the row stays, with the final state, for the next run to send it.
    const kept = commitOf(plan, rowKey);
    expect(kept).toMatchObject({
      schedule: { kind: 'keep', state: { status: 'Completed' } },
      upgrade: { scheduleKey: rowKey },
    });
    expect(kept.upgrade).not.toHaveProperty('notifiedAt');
    // The next run finds it final already: no call, the same notification, no new history.
    const resend = planPoll(plan.state, { kind: 'final-already' }, at + MINUTE, config, noJitter);
    expect(resend).toMatchObject({ kind: 'finish', statusChanged: false, becameFinal: false });
    expect(resend.history).toBeUndefined();
    if (resend.kind === 'finish') expect(resend.notification).toEqual(plan.notification);
  });

  it('past the maximum age and not final: Stale (our own status), even when the call failed', () => {
    const state = { ...fresh, lineItemCount: 3 };
    const at = T0 + config.maxAgeMs;
    const plan = planPoll(state, { kind: 'failed', category: 'transient', error: 'HTTP 503' }, at, config, noJitter);
    expect(plan).toMatchObject({ kind: 'finish', becameFinal: true, state: { status: 'Stale', historySeq: 1 } });
    expect(plan.history).toMatchObject({ status: 'Stale', lineItems: undefined, lineItemCount: 3 });
    // One millisecond earlier it is still followed, and its next poll is never later than the deadline.
    const before = planPoll(state, observed('InProgress'), at - 1, config, noJitter);
    expect(before).toMatchObject({ kind: 'reschedule', dueAt: at });
  });

  it('an observation older than the one stored, or lower in rank, changes nothing', () => {
    const inProgress = planPoll(fresh, observed('InProgress'), T0 + MINUTE, config, noJitter).state;
    const regression = planPoll(inProgress, observed('Pending'), T0 + 2 * MINUTE, config, noJitter);
    expect(regression).toMatchObject({ statusChanged: false, state: { status: 'InProgress' } });
    expect(regression.history).toBeUndefined();
    expect(regression.upgrade).not.toHaveProperty('lineItems');
  });
});
