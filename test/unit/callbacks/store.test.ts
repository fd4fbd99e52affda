import { decideOutcome, decideSendClaim, type CallbackRow } from '../../../shared/callbacks/store';

const NOW = 1_800_000_000_000;
const base = { upgradeId: 'u', eventId: 'e', event: 'upgrade.completed', recordedAt: new Date(NOW).toISOString() };
const row = (outcome: string, extra: Partial<CallbackRow> = {}): CallbackRow => ({ ...base, outcome, ...extra });
const mine = row('sending', { leaseOwner: 'me', leaseUntil: NOW + 40_000 });

describe('the Callbacks row decisions (pure)', () => {
  it('claim: a final row is final; a live claim of another sender is busy; anything else is claimed', () => {
    expect(decideSendClaim(row('delivered'), mine, NOW)).toMatchObject({ result: { kind: 'final' } });
    expect(decideSendClaim(row('poisoned'), mine, NOW)).not.toHaveProperty('write');
    const other = row('sending', { leaseOwner: 'other', leaseUntil: NOW + 5_000 });
    expect(decideSendClaim(other, mine, NOW)).toEqual({ result: { kind: 'busy', leaseRemainingMs: 5_000 } });
    for (const current of [undefined, row('retry'), { ...other, leaseUntil: NOW }]) {
      expect(decideSendClaim(current, mine, NOW)).toEqual({ result: { kind: 'claimed' }, write: mine });
    }
  });

  it('outcome: a final outcome is never replaced by a later retry; anything else is written', () => {
    expect(decideOutcome(row('rejected', { status: 400 }), row('retry'))).toEqual({
      result: expect.objectContaining({ outcome: 'rejected', status: 400 }) as unknown,
    });
    expect(decideOutcome(mine, row('retry'))).toMatchObject({ write: { outcome: 'retry' } });
    expect(decideOutcome(row('retry'), row('poisoned'))).toMatchObject({ write: { outcome: 'poisoned' } });
    expect(decideOutcome(row('poisoned'), row('delivered'))).toMatchObject({ write: { outcome: 'delivered' } });
  });
});
