import { randomUUID } from 'node:crypto';
import { generateFleetScenario, steppedClock, type SteppedClock } from '../../../dev/simulator';
import { startHostedStack, type HostedStack, type HttpAnswer } from '../../../dev/stack';
import { requestFleetScan } from '../../../shared/fleet';
import { documentedCalls, type ProblemBody } from '../../helpers/api';
import { truths, unlistedCustomer } from './helpers';
import { parse } from 'csv-parse/sync';
import { newSigningSecret } from '../../../shared/webhooks/signing';

/**
 * The waves' HTTP API through real HTTP into the real app in the local host (its own Azurite, the simulator on a
 * stepped clock, a billing receiver): every answer checked against docs/openapi.yaml; the fleet scanned by the real
 * timer function, waves created, read, paused, resumed and cancelled, and one run to its end by the timer and the
 * queues, its billing callbacks carrying the wave id.
 */

jest.setTimeout(180_000);

interface WaveBody {
  waveId: string;
  state: string;
  progress: Record<string, number>;
  members: { customerId: string; status: string; upgradeId?: string }[];
  cancelledAt?: string;
}

describe('the waves HTTP API', () => {
  let stack: HostedStack;
  let clock: SteppedClock;
  let eligible: string[];
  let suspended: string[];

  beforeAll(async () => {
    clock = steppedClock('2026-03-01T00:00:00Z');
    stack = await startHostedStack({
      simulator: {
        clock,
        scenario: generateFleetScenario({
          customers: 12,
          seed: 7,
          mix: { eligible: 0.5, suspendedSubscriptions: 0.25, advisor: 0.25 },
        }),
      },
      tablePrefix: 'waveapi',
      billing: { secret: newSigningSecret() },
      settings: {
        POLL_FIRST_DELAY_SECONDS: '0',
        POLL_RATE_PER_SECOND: '200',
        WAVE_CREATES_PER_MINUTE: '600',
        CALLBACK_RETRY_BASE_SECONDS: '1',
      },
    });
    const all = truths(stack.sim);
    eligible = all.filter((t) => t.eligibility.isEligible).map((t) => t.id);
    suspended = all.filter((t) => t.eligibility.reason === 'suspendedSubscriptions').map((t) => t.id);
    // The fleet scanned by the real timer function (a scan asked for is done by the next timer run).
    await requestFleetScan(stack.services.fleet);
    await stack.runByAdmin('pollUpgrades');
    expect((await stack.services.fleet.readSlot())?.scan?.state).toBe('completed');
  });
  afterAll(async () => stack?.stop());

  const { post, get } = documentedCalls(() => stack);

  function fieldsOf(response: HttpAnswer): string[] {
    expect(response.status).toBe(400);
    expect((response.body as ProblemBody).type).toBe('urn:azure-plan-upgrades:problem:validation');
    return ((response.body as ProblemBody).errors ?? []).map((e) => e.field).sort();
  }

  it('400 naming every field that is wrong; 415 for a body that is not JSON', async () => {
    const cases: [object, string[]][] = [
      [{}, ['customerIds']],
      [[], ['body']],
      [{ customerIds: [], dryRun: true }, ['customerIds']],
      [{ customerIds: 'x' }, ['customerIds']],
      [{ customerIds: [eligible[0], 'nope', eligible[0].toUpperCase()] }, ['customerIds/1', 'customerIds/2']],
      [{ customerIds: Array.from({ length: 201 }, () => randomUUID()) }, ['customerIds']],
      [{ customerIds: [eligible[0]], select: { state: 'eligible' } }, ['select']],
      [{ customerIds: [eligible[0]], limit: 5 }, ['limit']],
      [{ select: { state: 'not-eligible' }, limit: 0 }, ['limit', 'select/state']],
      [{ select: { state: 'eligible', resellerMpnId: 'abc' }, limit: 201 }, ['limit', 'select/resellerMpnId']],
      [{ select: 'eligible' }, ['select']],
      [{ select: { state: 'eligible' }, dryRun: 'yes', createsPerMinute: 601 }, ['createsPerMinute', 'dryRun']],
      [{ select: { state: 'eligible' }, createsPerMinute: 0 }, ['createsPerMinute']],
    ];
    for (const [body, fields] of cases) {
      expect({ body, fields: fieldsOf(await post('/fleet/waves', body)) }).toEqual({ body, fields });
    }
    expect(fieldsOf(await post('/fleet/waves', '{"customerIds": ['))).toEqual(['body']);
    expect((await post('/fleet/waves', 'customerIds=1', { contentType: 'text/plain' })).status).toBe(415);
    // Nothing of it made a wave.
    expect(await stack.services.fleet.readWaveSlot()).toBeUndefined();
  });

  it('a dry run says who would move and who is left out, and why; it writes nothing', async () => {
    const unknown = randomUUID();
    const response = await post('/fleet/waves', {
      customerIds: [...eligible.slice(0, 2), suspended[0], unknown],
      dryRun: true,
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      dryRun: true,
      selection: { kind: 'customers', count: 4 },
      createsPerMinute: 600,
      members: eligible.slice(0, 2).map((customerId) => ({ customerId })),
      excluded: [
        {
          customerId: suspended[0],
          state: 'not-eligible',
          reason: 'suspended-subscriptions',
          nextStep: expect.stringMatching(/suspended/i),
        },
        { customerId: unknown, state: 'unknown-customer' },
      ],
      notSelected: 0,
    });
    const selection = await post('/fleet/waves', { select: { state: 'eligible' }, limit: 2, dryRun: true });
    expect(selection.body).toMatchObject({ members: [{}, {}], notSelected: eligible.length - 2, excluded: [] });
    expect(await stack.services.fleet.readWaveSlot()).toBeUndefined();
  });

  it('a customer the last completed scan no longer listed is not one of a wave, asked for or selected', async () => {
    // A row an older scan wrote (eligible then) for a customer the last completed scan did not list.
    const listed = await stack.services.fleet.readCustomer(eligible[0]);
    const ghost = await unlistedCustomer(stack.services.fleet, listed!);
    expect((await stack.services.fleet.readCustomer(ghost))?.state).toBe('eligible');
    const asked = await post('/fleet/waves', { customerIds: [ghost, eligible[0]], dryRun: true });
    expect(asked.body).toMatchObject({
      members: [{ customerId: eligible[0] }],
      excluded: [{ customerId: ghost, state: 'unknown-customer' }],
    });
    const selected = (await post('/fleet/waves', { select: { state: 'eligible' }, dryRun: true })).body as {
      members: { customerId: string }[];
    };
    expect(selected.members.map((m) => m.customerId).sort()).toEqual([...eligible].sort());
    expect(await stack.services.fleet.readWaveSlot()).toBeUndefined();
  });

  it('422 when no customer asked for can move, with every reason', async () => {
    const response = await post('/fleet/waves', { customerIds: suspended });
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({
      type: 'urn:azure-plan-upgrades:problem:not-eligible',
      excluded: suspended.map((customerId) => ({ customerId, state: 'not-eligible' })),
    });
  });

  it('404 for a wave nobody created, 400 for an id that is not a GUID', async () => {
    for (const path of [`/fleet/waves/${randomUUID()}`]) expect((await get(path)).status).toBe(404);
    for (const command of ['pause', 'resume', 'cancel']) {
      expect((await post(`/fleet/waves/${randomUUID()}/${command}`, {})).status).toBe(404);
      expect(fieldsOf(await post(`/fleet/waves/wave-1/${command}`, {}))).toEqual(['waveId']);
    }
    expect(fieldsOf(await get('/fleet/waves/wave-1'))).toEqual(['waveId']);
  });

  it('create, one at a time, pause, resume, cancel; the next wave runs to its end, its callbacks carrying the wave id', async () => {
    // A wave of two, cancelled before any timer run: the slot is free again at once.
    const first = await post('/fleet/waves', { customerIds: eligible.slice(0, 2), createsPerMinute: 60 });
    expect(first.status).toBe(202);
    const firstId = (first.body as WaveBody).waveId;
    expect(first.headers.location).toBe(`/api/fleet/waves/${firstId}`);
    expect(first.body).toMatchObject({ state: 'running', progress: { members: 2, notStarted: 2 } });
    // One wave at a time: the second creation gets 409 with the running wave's Location.
    const second = await post('/fleet/waves', { select: { state: 'eligible' } });
    expect(second.status).toBe(409);
    expect(second.headers.location).toBe(`/api/fleet/waves/${firstId}`);
    expect(second.body).toMatchObject({ type: 'urn:azure-plan-upgrades:problem:conflict', waveId: firstId });

    const paused = await post(`/fleet/waves/${firstId}/pause`, {});
    expect(paused.body).toMatchObject({ state: 'paused', pausedAt: expect.any(String) });
    const again = await post(`/fleet/waves/${firstId}/pause`, {});
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ state: 'paused', detail: 'The wave is paused already.' });
    expect((await post(`/fleet/waves/${firstId}/resume`, {})).body).toMatchObject({ state: 'running' });
    const cancelled = await post(`/fleet/waves/${firstId}/cancel`, {});
    expect(cancelled.body).toMatchObject({ state: 'following', cancelledAt: expect.any(String) });
    expect((await post(`/fleet/waves/${firstId}/resume`, {})).status).toBe(409);

    // The next wave: every eligible customer (the cancelled wave's members never started: they are free).
    const created = await post('/fleet/waves', { select: { state: 'eligible' } });
    expect(created.status).toBe(202);
    const waveId = (created.body as WaveBody).waveId;
    // the 202 answers from the rows just written: the same wave a read right after finds
    expect(created.body).toEqual((await get(`/fleet/waves/${waveId}`)).body);
    expect((await get(`/fleet/waves/${waveId}`)).body).toMatchObject({
      waveId,
      state: 'running',
      createsPerMinute: 600,
      selection: { kind: 'select', state: 'eligible', limit: 200 },
      progress: { members: eligible.length, notStarted: eligible.length },
    });
    // A timer run starts them; the queue trigger starts each one's tracking.
    await stack.runByAdmin('pollUpgrades');
    const started = (await get(`/fleet/waves/${waveId}`)).body as WaveBody;
    expect(started.progress).toMatchObject({ created: eligible.length, inProgress: eligible.length });
    for (const member of started.members) await stack.tracked(member.upgradeId!);
    // Partner Center finishes them; the next run polls them final, the callbacks go out, the wave ends.
    clock.advance(6 * 3600_000);
    await stack.runByAdmin('pollUpgrades');
    const ended = (await get(`/fleet/waves/${waveId}`)).body as WaveBody;
    expect(ended.state).toBe('completed');
    expect(ended.progress.completed + ended.progress.failed).toBe(eligible.length);
    const ids = new Set(ended.members.map((m) => m.upgradeId));
    const receiver = stack.receiver!;
    const callbacks = await stack.until('notifyBillingSystem', () => {
      const ours = receiver.received.filter((r) => ids.has(r.body.upgradeId));
      return ours.length >= ids.size ? ours : undefined;
    });
    expect(callbacks.every((c) => c.verified && c.body.waveId === waveId)).toBe(true);
    // The cancelled wave ended too (nothing of it was started), and nothing applies to an ended wave.
    expect((await get(`/fleet/waves/${firstId}`)).body).toMatchObject({
      state: 'cancelled',
      progress: { cancelled: 2, created: 0 },
    });
    const refused = await post(`/fleet/waves/${waveId}/cancel`, {});
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ state: 'completed', detail: 'The wave has ended (completed).' });

    // The CSV export of each wave parses with a standard CSV parser and says what the JSON says, member by member.
    for (const id of [waveId, firstId]) {
      const json = (await get(`/fleet/waves/${id}`)).body as WaveBody;
      const csv = await get(`/fleet/waves/${id}`, { accept: 'text/csv' });
      expect(csv.status).toBe(200);
      expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8; header=present');
      expect(csv.headers['content-disposition']).toBe(`attachment; filename="wave-${id}.csv"`);
      const records = parse<Record<string, string>>(csv.text, { columns: true, record_delimiter: '\r\n' });
      expect(records.map((r) => ({ waveId: r.waveId, customerId: r.customerId, status: r.status }))).toEqual(
        json.members.map((m) => ({ waveId: id, customerId: m.customerId, status: m.status })),
      );
      expect(records.map((r) => r.upgradeId)).toEqual(json.members.map((m) => m.upgradeId ?? ''));
    }
    expect((await get(`/fleet/waves/${randomUUID()}`, { accept: 'text/csv' })).status).toBe(404);
  });
});
