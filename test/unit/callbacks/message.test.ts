import fc from 'fast-check';
import { notificationEventId } from '../../../shared/callbacks/events';
import { MAX_RETRY_DELAY_SECONDS, parseCallbackMessage, retryDelaySeconds } from '../../../shared/callbacks/message';
import { messageText } from '../../../shared/queues/message';
import { encodeQueueMessage } from '../../../shared/queues/producer';

const UPGRADE_ID = '1F5E0A76-C5FC-48C6-B2CE-C12A8B160B39';
const VALID = {
  eventId: notificationEventId(UPGRADE_ID, 'Completed').toUpperCase(),
  event: 'upgrade.completed',
  upgradeId: UPGRADE_ID,
  customerId: '00000000-0000-4000-8000-000000000101',
  status: 'Completed',
  completedAt: '2026-11-21T04:00:00.000Z',
};

describe('parseCallbackMessage', () => {
  it('accepts the poller notification as object, JSON text or Buffer; attempt defaults to 1; ids lower-cased', () => {
    for (const input of [VALID, JSON.stringify(VALID), Buffer.from(JSON.stringify(VALID))]) {
      expect(parseCallbackMessage(input)).toEqual({
        ok: true,
        message: {
          ...VALID,
          eventId: VALID.eventId.toLowerCase(),
          upgradeId: VALID.upgradeId.toLowerCase(),
          attempt: 1,
        },
      });
    }
    expect(parseCallbackMessage({ ...VALID, attempt: 4 })).toMatchObject({ ok: true, message: { attempt: 4 } });
  });

  it.each([
    ['not JSON', '{"eventId":', 'message is not valid JSON'],
    ['an array', [VALID], 'message must be a JSON object'],
    ['no eventId', { ...VALID, eventId: undefined }, 'eventId is missing'],
    ['a non-GUID upgradeId', { ...VALID, upgradeId: 'abc' }, 'upgradeId must be a GUID'],
    ['a numeric customerId', { ...VALID, customerId: 7 }, 'customerId must be a GUID'],
    ['an unknown event', { ...VALID, event: 'upgrade.started' }, 'event must be one of'],
    ['a status that is not final', { ...VALID, status: 'InProgress' }, 'status must be a final status'],
    ['a bad completedAt', { ...VALID, completedAt: 'yesterday' }, 'completedAt must be an ISO-8601 time'],
    ['attempt 0', { ...VALID, attempt: 0 }, 'attempt must be an integer'],
    ['a status of its own', { ...VALID, status: 'Failed' }, 'event must be upgrade.failed for status Failed'],
    // Forged: what the tracking never sends.
    ['another event for the status', { ...VALID, event: 'upgrade.failed' }, 'event must be upgrade.completed'],
    ['an event id of no event', { ...VALID, eventId: '00000000-0000-4000-8000-000000000000' }, 'eventId is not the id'],
    [
      'the event id of another status',
      { ...VALID, eventId: notificationEventId(UPGRADE_ID, 'Failed') },
      'eventId is not the id of the Completed event',
    ],
    [
      'the event id of another upgrade',
      { ...VALID, upgradeId: '00000000-0000-4000-8000-000000000101' },
      'eventId is not the id',
    ],
    ['a fractional attempt', { ...VALID, attempt: 1.5 }, 'attempt must be an integer'],
  ])('rejects %s with a reason naming the field', (_name, input, reason) => {
    const parsed = parseCallbackMessage(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });

  it('a parsed message (the retry copy) never shadows trigger metadata: the producer accepts it', () => {
    const parsed = parseCallbackMessage({ ...VALID, attempt: 2 });
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(() => encodeQueueMessage(parsed.message)).not.toThrow();
  });

  it('arbitrary input never throws', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(typeof parseCallbackMessage(value).ok).toBe('boolean');
        expect(typeof messageText(value)).toBe('string');
      }),
    );
  });
});

describe('retryDelaySeconds', () => {
  it('waits the base first, then doubles, capped at an hour', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelaySeconds(attempt, 30_000))).toEqual([30, 60, 120, 240]);
    expect(retryDelaySeconds(20, 30_000)).toBe(MAX_RETRY_DELAY_SECONDS);
    expect(retryDelaySeconds(1, 0)).toBe(0);
  });

  it('never shrinks from one attempt to the next and stays within [base, cap]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 3_600_000 }), (attempt, baseMs) => {
        const delay = retryDelaySeconds(attempt, baseMs);
        expect(retryDelaySeconds(attempt + 1, baseMs)).toBeGreaterThanOrEqual(delay);
        expect(delay).toBeGreaterThanOrEqual(Math.min(Math.ceil(baseMs / 1000), MAX_RETRY_DELAY_SECONDS));
        expect(delay).toBeLessThanOrEqual(MAX_RETRY_DELAY_SECONDS);
        expect(Number.isInteger(delay)).toBe(true);
      }),
    );
  });
});
