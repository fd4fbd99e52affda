import { parseNcrontab } from '../config';
import {
  FLEET_STATES,
  NOT_ELIGIBLE_REASONS,
  requestFleetScan,
  type CustomerFilter,
  type FleetState,
  type NotEligibleReason,
} from '../fleet';
import { csvAnswer, wantsCsv } from '../http/csv';
import { problem, validationProblem, type FieldError } from '../http/problem';
import { isGuid } from '../http/validation';
import type { Services } from '../services';
import { InvalidContinuationTokenError } from '../storage/continuation';
import { problemForError } from './errors';
import {
  CUSTOMER_CSV_COLUMNS,
  customerView,
  estimateScan,
  scanLocation,
  scanView,
  summaryView,
  type FleetCustomerView,
} from './fleet-views';
import { errorContext, JSON_HEADERS, readPageSize, type OperatorLog, type ReadRequest } from './read';

/**
 * The fleet for operators: ask for a scan and follow it, the fleet's summary, and its customers — paged JSON, or the
 * whole listing as CSV. Function-key endpoints; every failure is problem details (storage failures 503), no error
 * text in an answer.
 */

/** An answer: JSON (`jsonBody`), or a streamed body (the CSV export). */
export interface FleetResponse {
  status: number;
  headers: Record<string, string>;
  jsonBody?: unknown;
  body?: ReadableStream<Uint8Array>;
}

/** The part of a request the fleet endpoints read. */
export interface FleetRequest extends ReadRequest {
  headers: { get(name: string): string | null };
}

export const DEFAULT_CUSTOMER_PAGE = 100;
export const MAX_CUSTOMER_PAGE = 1000;

function isOneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
}

/** POST /api/fleet/scans: a new scan (202, Location), or the one not finished yet (409, its Location). */
export async function startFleetScan(
  services: Services,
  request: FleetRequest,
  log: OperatorLog,
): Promise<FleetResponse> {
  const context = errorContext(services, request, log);
  try {
    const { outcome, scan } = await requestFleetScan(services.fleet);
    const location = scanLocation(scan.scanId);
    if (outcome === 'exists') {
      const refused = problem(409, 'conflict', 'A fleet scan is not finished', {
        detail: `Scan ${scan.scanId} is ${scan.state}: one scan runs at a time. Follow it at ${location}.`,
        instance: context.instance,
        scanId: scan.scanId,
      });
      return { ...refused, headers: { ...refused.headers, location } };
    }
    services.telemetry.event('FleetScanRequested', { scanId: scan.scanId, trigger: scan.trigger });
    return { status: 202, headers: { ...JSON_HEADERS, location }, jsonBody: scanView(scan) };
  } catch (error) {
    return problemForError(error, context);
  }
}

/** GET /api/fleet/scans/{scanId}: a scan (`current`: the current or last one) with its progress and estimate. */
export async function readFleetScan(
  services: Services,
  request: FleetRequest,
  log: OperatorLog,
): Promise<FleetResponse> {
  const context = errorContext(services, request, log);
  const { scanId } = request.params;
  const current = scanId?.toLowerCase() === 'current';
  if (!current && !isGuid(scanId)) {
    return validationProblem([{ field: 'scanId', message: 'must be a GUID or "current"' }], context.instance);
  }
  try {
    const slot = await services.fleet.readSlot();
    const scan = current ? slot?.scan : await services.fleet.findScan(scanId.toLowerCase(), slot);
    if (!scan) {
      return problem(404, 'not-found', 'No such fleet scan', {
        detail: current ? 'No fleet scan has been asked for yet.' : `No fleet scan ${scanId} is known.`,
        instance: context.instance,
      });
    }
    const finished = scan.state === 'completed' || scan.state === 'failed';
    const previous = finished ? undefined : await services.fleet.lastCompletedScan(slot);
    const { poll } = services.config;
    const estimate = estimateScan(
      scan,
      previous,
      {
        ratePerSecond: poll.ratePerSecond,
        timeBudgetMs: poll.timeBudgetMs,
        pollSchedule: parseNcrontab(poll.schedule),
      },
      Date.now(),
    );
    return { status: 200, headers: JSON_HEADERS, jsonBody: scanView(scan, estimate) };
  } catch (error) {
    return problemForError(error, context);
  }
}

/** GET /api/fleet/summary */
export async function readFleetSummary(
  services: Services,
  request: FleetRequest,
  log: OperatorLog,
): Promise<FleetResponse> {
  const context = errorContext(services, request, log);
  try {
    const slot = await services.fleet.readSlot();
    const [completed, upgrades] = await Promise.all([
      services.fleet.lastCompletedScan(slot),
      services.tracking.countUpgradesByStatus(),
    ]);
    return { status: 200, headers: JSON_HEADERS, jsonBody: summaryView(completed, slot?.scan, upgrades) };
  } catch (error) {
    return problemForError(error, context);
  }
}

/**
 * GET /api/fleet/customers?state=&reason=&pageSize=&continuationToken=, in customer id order: a page of JSON, or, with
 * `Accept: text/csv`, the whole listing as CSV, streamed page by page. The customers shown are those the last
 * completed scan listed, with what later scans wrote of them (a customer no longer listed drops out).
 */
export async function readFleetCustomers(
  services: Services,
  request: FleetRequest,
  log: OperatorLog,
): Promise<FleetResponse> {
  const context = errorContext(services, request, log);
  const { query } = request;
  const csv = wantsCsv(request.headers.get('accept'));
  const errors: FieldError[] = [];
  const state = query.get('state') ?? undefined;
  if (state !== undefined && !isOneOf(FLEET_STATES, state)) {
    errors.push({ field: 'state', message: `must be one of ${FLEET_STATES.join(', ')}` });
  }
  const reason = query.get('reason') ?? undefined;
  if (reason !== undefined && !isOneOf(NOT_ELIGIBLE_REASONS, reason)) {
    errors.push({ field: 'reason', message: `must be one of ${NOT_ELIGIBLE_REASONS.join(', ')}` });
  } else if (reason !== undefined && state !== undefined && state !== 'not-eligible') {
    errors.push({ field: 'reason', message: 'applies to state not-eligible only' });
  }
  const size = readPageSize(query, MAX_CUSTOMER_PAGE, DEFAULT_CUSTOMER_PAGE);
  const continuationToken = query.get('continuationToken') ?? undefined;
  if (csv) {
    // The export is the whole listing: paging is for the JSON answer only.
    for (const field of ['pageSize', 'continuationToken']) {
      if (query.get(field) !== null) errors.push({ field, message: 'is not taken with Accept: text/csv' });
    }
  } else if ('error' in size) {
    errors.push(size.error);
  }
  if (errors.length > 0) return validationProblem(errors, context.instance);
  try {
    const filter: CustomerFilter = {
      ...(state ? { state: state as FleetState } : {}),
      ...(reason ? { reason: reason as NotEligibleReason } : {}),
      scannedSince: await services.fleet.listedSince(),
    };
    if (csv) return await csvExport(services, filter);
    const page = await services.fleet.customerPage(filter, {
      pageSize: 'pageSize' in size ? size.pageSize : DEFAULT_CUSTOMER_PAGE,
      continuationToken,
    });
    return {
      status: 200,
      headers: JSON_HEADERS,
      jsonBody: {
        items: page.items.map(customerView),
        ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
      },
    };
  } catch (error) {
    if (error instanceof InvalidContinuationTokenError) {
      return validationProblem([{ field: 'continuationToken', message: 'is not valid' }], context.instance);
    }
    return problemForError(error, context);
  }
}

/** The CSV export of the customers (csvAnswer: the first page read before answering, the rest streamed). */
async function csvExport(services: Services, filter: CustomerFilter): Promise<FleetResponse> {
  async function* views(): AsyncGenerator<FleetCustomerView[]> {
    for await (const page of services.fleet.customerPages(filter)) yield page.map(customerView);
  }
  return csvAnswer(CUSTOMER_CSV_COLUMNS, views(), 'fleet-customers.csv');
}
