import { WAVE_PACE_LIMITS } from '../config';
import {
  commandWave,
  createWave,
  MAX_WAVE_MEMBERS,
  readWave,
  viewOf,
  waveView,
  waveMembersWithStatus,
  type Exclusion,
  type WaveCommand,
  type WaveRequest,
  type WaveView,
} from '../fleet';
import { parseJsonBody, readRawJsonBody, type BodyRequest } from '../http/body';
import { csvAnswer, csvPages, wantsCsv, type CsvAnswer, type CsvColumn } from '../http/csv';
import { problem, validationProblem, type FieldError } from '../http/problem';
import { isGuid, type Validated } from '../http/validation';
import { dropUndefined, isJsonObject } from '../json';
import type { Services } from '../services';
import type { HttpResponseShape } from '../webhooks';
import { problemForError } from './errors';
import { errorContext, JSON_HEADERS, type OperatorLog, type ReadRequest } from './read';

/*
 * The waves' HTTP API (function keys, like every endpoint but health; not signed webhooks: operators call these):
 * create or dry-run a wave, read it with its progress and members, pause, resume or cancel it. What an answer shows
 * of a wave is an allow-list, field by field (as for upgrades): an error's text stays in the row and the logs.
 */

export function waveLocation(waveId: string): string {
  return `/api/fleet/waves/${waveId}`;
}

export type CreateWaveBody = WaveRequest & { dryRun: boolean };

const MPN_ID = /^\d{1,20}$/;

function own(body: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(body, name) ? body[name] : undefined;
}

function customerIdsErrors(value: unknown, errors: FieldError[]): string[] {
  if (!Array.isArray(value)) {
    errors.push({ field: 'customerIds', message: 'must be an array of customer ids (GUIDs)' });
    return [];
  }
  if (value.length === 0) errors.push({ field: 'customerIds', message: 'must name at least one customer' });
  if (value.length > MAX_WAVE_MEMBERS) {
    errors.push({ field: 'customerIds', message: `must name at most ${MAX_WAVE_MEMBERS} customers` });
    return [];
  }
  const seen = new Map<string, number>();
  const ids: string[] = [];
  value.forEach((item: unknown, index) => {
    if (!isGuid(item)) {
      errors.push({ field: `customerIds/${index}`, message: 'must be a GUID (the customer tenant id)' });
      return;
    }
    const id = item.toLowerCase();
    const first = seen.get(id);
    if (first !== undefined) errors.push({ field: `customerIds/${index}`, message: `repeats customerIds/${first}` });
    else seen.set(id, index);
    ids.push(id);
  });
  return ids;
}

function selectErrors(value: unknown, errors: FieldError[]): { resellerMpnId?: string } {
  if (!isJsonObject(value)) {
    errors.push({ field: 'select', message: 'must be an object: { "state": "eligible", "resellerMpnId"?: "…" }' });
    return {};
  }
  if (own(value, 'state') !== 'eligible') {
    errors.push({ field: 'select/state', message: 'must be "eligible" (the only state a wave moves)' });
  }
  const mpn = own(value, 'resellerMpnId');
  if (mpn !== undefined && (typeof mpn !== 'string' || !MPN_ID.test(mpn))) {
    errors.push({ field: 'select/resellerMpnId', message: 'must be an MPN id (1 to 20 digits) when given' });
    return {};
  }
  return mpn === undefined ? {} : { resellerMpnId: mpn };
}

/**
 * `{ customerIds: [...] }` or `{ select: { state: "eligible", resellerMpnId? }, limit? }`, with `dryRun?` and
 * `createsPerMinute?`. Every failing field is named; unknown fields are ignored; only own properties are read.
 */
export function validateWaveRequest(body: unknown): Validated<CreateWaveBody> {
  if (!isJsonObject(body)) return { ok: false, errors: [{ field: 'body', message: 'must be a JSON object' }] };
  const errors: FieldError[] = [];
  const customerIds = own(body, 'customerIds');
  const select = own(body, 'select');
  const limit = own(body, 'limit');
  const dryRun = own(body, 'dryRun');
  const pace = own(body, 'createsPerMinute');
  let members: WaveRequest['members'] | undefined;
  if (customerIds !== undefined && select !== undefined) {
    errors.push({ field: 'select', message: 'give customerIds or select, not both' });
  } else if (customerIds !== undefined) {
    members = { kind: 'customers', customerIds: customerIdsErrors(customerIds, errors) };
    if (limit !== undefined) errors.push({ field: 'limit', message: 'applies to select only' });
  } else if (select !== undefined) {
    const { resellerMpnId } = selectErrors(select, errors);
    if (
      limit !== undefined &&
      !(Number.isInteger(limit) && (limit as number) >= 1 && (limit as number) <= MAX_WAVE_MEMBERS)
    ) {
      errors.push({ field: 'limit', message: `must be an integer from 1 to ${MAX_WAVE_MEMBERS}` });
    }
    members = {
      kind: 'select',
      state: 'eligible',
      limit: typeof limit === 'number' ? limit : MAX_WAVE_MEMBERS,
      ...(resellerMpnId === undefined ? {} : { resellerMpnId }),
    };
  } else {
    errors.push({ field: 'customerIds', message: 'is required, unless select is given' });
  }
  if (dryRun !== undefined && typeof dryRun !== 'boolean') {
    errors.push({ field: 'dryRun', message: 'must be true or false' });
  }
  const { min, max } = WAVE_PACE_LIMITS;
  if (pace !== undefined && !(typeof pace === 'number' && Number.isFinite(pace) && pace >= min && pace <= max)) {
    errors.push({ field: 'createsPerMinute', message: `must be a number from ${min} to ${max}` });
  }
  if (errors.length > 0 || !members) return { ok: false, errors };
  return {
    ok: true,
    value: { members, dryRun: dryRun === true, ...(typeof pace === 'number' ? { createsPerMinute: pace } : {}) },
  };
}

function exclusionRepresentation(exclusion: Exclusion): Record<string, unknown> {
  return dropUndefined<unknown>({
    customerId: exclusion.customerId,
    state: exclusion.state,
    reason: exclusion.reason,
    code: exclusion.code,
    upgradeId: exclusion.upgradeId,
    waveId: exclusion.waveId,
    nextStep: exclusion.nextStep,
    scannedAt: exclusion.scannedAt,
  });
}

type MemberView = WaveView['members'][number];

/** `WaveMember` in docs/openapi.yaml: an allow-list (a failure's text stays in the row). */
function memberRepresentation(member: MemberView): Record<string, unknown> {
  return dropUndefined<unknown>({
    customerId: member.customerId,
    companyName: member.companyName,
    status: member.progress,
    attempts: member.attempts,
    upgradeId: member.upgradeId,
    upgradeStatus: member.upgradeStatus,
    skip: member.skip && dropUndefined<unknown>({ ...member.skip }),
    lastError:
      member.lastError && dropUndefined<unknown>({ category: member.lastError.category, code: member.lastError.code }),
    updatedAt: member.updatedAt,
  });
}

/** The wave's CSV export: one record per member, `WaveMember`'s fields with `skip` and `lastError` spread out. */
export const WAVE_MEMBER_CSV_COLUMNS: CsvColumn<MemberView>[] = [
  { header: 'waveId', value: (m) => m.waveId },
  { header: 'customerId', value: (m) => m.customerId },
  { header: 'companyName', value: (m) => m.companyName },
  { header: 'status', value: (m) => m.progress },
  { header: 'attempts', value: (m) => m.attempts },
  { header: 'upgradeId', value: (m) => m.upgradeId },
  { header: 'upgradeStatus', value: (m) => m.upgradeStatus },
  { header: 'skipState', value: (m) => m.skip?.state },
  { header: 'skipReason', value: (m) => m.skip?.reason },
  { header: 'skipCode', value: (m) => m.skip?.code },
  { header: 'nextStep', value: (m) => m.skip?.nextStep },
  { header: 'lastErrorCategory', value: (m) => m.lastError?.category },
  { header: 'lastErrorCode', value: (m) => m.lastError?.code },
  { header: 'updatedAt', value: (m) => m.updatedAt },
];

/** How many members go in one chunk of the CSV body. */
const CSV_PAGE = 50;

/** `Wave` in docs/openapi.yaml: the record, its progress by status, and its members (at most 200). */
export function waveRepresentation(view: WaveView): Record<string, unknown> {
  const { wave } = view;
  return dropUndefined<unknown>({
    waveId: wave.waveId,
    state: wave.state,
    selection: wave.selection,
    createsPerMinute: wave.createsPerMinute,
    createdAt: wave.createdAt,
    startedAt: wave.startedAt,
    pausedAt: wave.pausedAt,
    cancelledAt: wave.cancelledAt,
    createsDoneAt: wave.createsDoneAt,
    finishedAt: wave.finishedAt,
    updatedAt: wave.updatedAt,
    progress: view.progress,
    members: view.members.map(memberRepresentation),
  });
}

function waveAnswer(status: number, view: WaveView, location = false): HttpResponseShape {
  return {
    status,
    headers: { ...JSON_HEADERS, ...(location ? { location: waveLocation(view.wave.waveId) } : {}) },
    jsonBody: waveRepresentation(view),
  };
}

function instanceOf(request: { url: string }): string {
  return new URL(request.url).pathname;
}

/** POST /api/fleet/waves: a dry run (200), a wave created (202 + Location), or why not (400, 409 + Location, 422). */
export async function createWaveRequest(
  services: Services,
  request: BodyRequest & { url: string },
  log: OperatorLog,
): Promise<HttpResponseShape> {
  const instance = instanceOf(request);
  const raw = await readRawJsonBody(request, { instance });
  if (!raw.ok) return raw.response;
  const parsed = parseJsonBody(raw.raw, instance);
  if (!parsed.ok) return parsed.response;
  const validated = validateWaveRequest(parsed.json);
  if (!validated.ok) return validationProblem(validated.errors, instance);
  try {
    const now = Date.now;
    const outcome = await createWave(
      services.fleet,
      validated.value,
      { createsPerMinute: services.config.fleet.waveCreatesPerMinute },
      { now, telemetry: services.telemetry },
    );
    switch (outcome.outcome) {
      case 'dry-run':
        return {
          status: 200,
          headers: JSON_HEADERS,
          jsonBody: {
            dryRun: true,
            selection: outcome.plan.selection,
            createsPerMinute: outcome.createsPerMinute,
            members: outcome.plan.members.map((m) =>
              dropUndefined({ customerId: m.customerId, companyName: m.companyName }),
            ),
            excluded: outcome.plan.excluded.map(exclusionRepresentation),
            notSelected: outcome.plan.notSelected,
          },
        };
      case 'empty':
        return problem(422, 'not-eligible', 'No customer of the wave can move now', {
          detail: 'Every customer asked for is left out; `excluded` says why, customer by customer.',
          instance,
          excluded: outcome.plan.excluded.map(exclusionRepresentation),
        });
      case 'exists': {
        const answer = problem(409, 'conflict', 'Another wave is running', {
          detail:
            `Wave ${outcome.waveId} still starts customers (one wave at a time): wait until it has started them ` +
            'all, or pause and cancel it.',
          instance,
          waveId: outcome.waveId,
        });
        return { ...answer, headers: { ...answer.headers, location: waveLocation(outcome.waveId) } };
      }
      case 'created':
        return waveAnswer(202, viewOf(outcome.wave, outcome.members), true);
    }
  } catch (error) {
    return problemForError(error, errorContext(services, request, log));
  }
}

function waveIdProblem(request: ReadRequest, instance: string): HttpResponseShape | undefined {
  return isGuid(request.params.waveId)
    ? undefined
    : validationProblem([{ field: 'waveId', message: 'must be a GUID' }], instance);
}

function notFound(waveId: string, instance: string): HttpResponseShape {
  return problem(404, 'not-found', 'No such wave', { detail: `No wave ${waveId} exists.`, instance });
}

/**
 * GET /api/fleet/waves/{waveId}: the wave as JSON, or with `Accept: text/csv` its members as CSV (streamed, read in
 * pages like the customers' export; a wave has at most 200 members).
 */
export async function readWaveRequest(
  services: Services,
  request: ReadRequest & { headers: { get(name: string): string | null } },
  log: OperatorLog,
): Promise<HttpResponseShape | CsvAnswer> {
  const instance = instanceOf(request);
  const invalid = waveIdProblem(request, instance);
  if (invalid) return invalid;
  const waveId = request.params.waveId!.toLowerCase();
  try {
    if (wantsCsv(request.headers.get('accept'))) {
      const wave = await services.fleet.readWave(waveId);
      if (!wave) return notFound(waveId, instance);
      return await csvAnswer(
        WAVE_MEMBER_CSV_COLUMNS,
        csvPages(waveMembersWithStatus(services.fleet, wave), CSV_PAGE),
        `wave-${waveId}.csv`,
      );
    }
    const view = await readWave(services.fleet, waveId);
    return view ? waveAnswer(200, view) : notFound(waveId, instance);
  } catch (error) {
    return problemForError(error, errorContext(services, request, log));
  }
}

const COMMAND_TITLES: Record<WaveCommand, string> = {
  pause: 'The wave cannot be paused',
  resume: 'The wave cannot be resumed',
  cancel: 'The wave cannot be cancelled',
};

/** POST /api/fleet/waves/{waveId}/pause | resume | cancel: 200 with the wave, or 409 saying why not. */
export async function commandWaveRequest(
  services: Services,
  request: ReadRequest,
  command: WaveCommand,
  log: OperatorLog,
): Promise<HttpResponseShape> {
  const instance = instanceOf(request);
  const invalid = waveIdProblem(request, instance);
  if (invalid) return invalid;
  const waveId = request.params.waveId!.toLowerCase();
  try {
    const result = await commandWave(services.fleet, waveId, command, { telemetry: services.telemetry });
    switch (result.outcome) {
      case 'not-found':
        return notFound(waveId, instance);
      case 'refused':
        return problem(409, 'conflict', COMMAND_TITLES[command], {
          detail: `${result.why[0].toUpperCase()}${result.why.slice(1)}.`,
          instance,
          waveId,
          state: result.wave.state,
        });
      case 'done':
        return waveAnswer(200, await waveView(services.fleet, result.wave));
    }
  } catch (error) {
    return problemForError(error, errorContext(services, request, log));
  }
}
