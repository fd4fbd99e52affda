import { problem, validationProblem, type FieldError } from '../http/problem';
import { isGuid } from '../http/validation';
import type { Services } from '../services';
import { InvalidContinuationTokenError } from '../tracking';
import type { HttpResponseShape } from '../webhooks';
import { problemForError, type ErrorContext } from './errors';
import { upgradeDetail, upgradeRepresentation } from './representation';

export const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** The parts of an HTTP request (the Functions `HttpRequest`) a read endpoint looks at. */
export interface ReadRequest {
  url: string;
  params: Readonly<Record<string, string | undefined>>;
  query: { get(name: string): string | null };
}

/** Where operators read what went wrong (the invocation's context). */
export interface OperatorLog {
  warn(message: string): void;
  error(message: string): void;
}

/** How a read endpoint answers a failure: problem `instance` from the path, details only in logs and telemetry. */
export function errorContext(services: Services, request: { url: string }, log: OperatorLog): ErrorContext {
  return {
    instance: new URL(request.url).pathname,
    telemetry: services.telemetry,
    log: (level, message) => log[level](message),
  };
}

/** A listing's `pageSize`: an integer from 1 to `max`, `fallback` when absent; otherwise the field's error. */
export function readPageSize(
  query: ReadRequest['query'],
  max: number,
  fallback: number,
): { pageSize: number } | { error: FieldError } {
  const raw = query.get('pageSize');
  const pageSize = raw === null ? fallback : Number(raw);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > max) {
    return { error: { field: 'pageSize', message: `must be an integer from 1 to ${max}` } };
  }
  return { pageSize };
}

/** GET /api/upgrades/{upgradeId} */
export async function readUpgrade(
  services: Services,
  request: ReadRequest,
  log: OperatorLog,
): Promise<HttpResponseShape> {
  const context = errorContext(services, request, log);
  const { upgradeId } = request.params;
  if (!isGuid(upgradeId)) {
    return validationProblem([{ field: 'upgradeId', message: 'must be a GUID' }], context.instance);
  }
  try {
    const view = await services.tracking.getUpgrade(upgradeId.toLowerCase());
    if (!view) {
      return problem(404, 'not-found', 'No such upgrade', {
        detail: `No upgrade ${upgradeId} is tracked.`,
        instance: context.instance,
      });
    }
    return { status: 200, headers: JSON_HEADERS, jsonBody: upgradeDetail(view) };
  } catch (error) {
    return problemForError(error, context);
  }
}

/** GET /api/customers/{customerId}/upgrades?pageSize=&continuationToken= */
export async function listUpgradesOfCustomer(
  services: Services,
  request: ReadRequest,
  log: OperatorLog,
): Promise<HttpResponseShape> {
  const context = errorContext(services, request, log);
  const { customerId } = request.params;
  const { query } = request;
  const errors: FieldError[] = [];
  if (!isGuid(customerId)) errors.push({ field: 'customerId', message: 'must be a GUID' });
  const size = readPageSize(query, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE);
  if ('error' in size) errors.push(size.error);
  const continuationToken = query.get('continuationToken') ?? undefined;
  if (errors.length > 0 || !('pageSize' in size)) return validationProblem(errors, context.instance);
  const { pageSize } = size;
  try {
    const page = await services.tracking.listCustomerUpgrades(customerId!.toLowerCase(), {
      pageSize,
      continuationToken,
    });
    if (page.items.length === 0 && continuationToken === undefined) {
      return problem(404, 'not-found', 'No upgrades for this customer', {
        detail: `No upgrade is tracked for customer ${customerId}.`,
        instance: context.instance,
      });
    }
    return {
      status: 200,
      headers: JSON_HEADERS,
      jsonBody: {
        items: page.items.map(upgradeRepresentation),
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
