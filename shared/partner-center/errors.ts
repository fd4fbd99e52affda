import type { PipelineResponse } from '@azure/core-rest-pipeline';
import { GUID_SOURCE } from '../ids';
import { int, isObject, parseJson, prop, str } from './json';
import { snippet } from './redact';
import { retryAfterMs as readRetryAfter } from './retry-after';

/**
 * What a caller should do about a failure:
 * - `throttled` (429) and `transient` (408, 5xx, network, timeouts, deadline): try again later;
 * - `auth`: credentials or consent are wrong — an operator must act;
 * - `not-found`, `conflict`, `business-rule`, `invalid-input`: permanent for this request; never retry.
 */
export const PARTNER_CENTER_ERROR_CATEGORIES = [
  'throttled',
  'transient',
  'auth',
  'not-found',
  'conflict',
  'business-rule',
  'invalid-input',
] as const;

export type PartnerCenterErrorCategory = (typeof PARTNER_CENTER_ERROR_CATEGORIES)[number];

/**
 * Partner Center error codes (docs "Partner Center REST error codes") and their category. Decisions where the table
 * leaves room:
 * - 900110 (upgrade already completed) is `conflict`: like 900109/900112-900114 the resource's state conflicts with
 *   the request; a caller that wanted the upgrade treats it as "already done" and looks the upgrade up.
 * - 900111 (upgrade id belongs to another customer) is `business-rule`: a permanent refusal with nothing to reconcile.
 * - 900329 (app-only token not supported) is `auth`; 800003 (unexpected service error) is `transient`.
 */
export const ERROR_CODE_CATEGORIES: Readonly<Record<number, PartnerCenterErrorCategory>> = {
  900105: 'business-rule',
  900106: 'not-found',
  900107: 'invalid-input',
  900108: 'business-rule',
  900109: 'conflict',
  900110: 'conflict',
  900111: 'business-rule',
  900112: 'conflict',
  900113: 'conflict',
  900114: 'conflict',
  900118: 'invalid-input',
  900119: 'business-rule',
  900120: 'business-rule',
  900130: 'business-rule',
  20002: 'business-rule',
  800001: 'auth',
  800002: 'invalid-input',
  800003: 'transient',
  900329: 'auth',
  900421: 'auth',
};

/** The category of an HTTP status and Partner Center code: 429, 408 and 5xx win over any code; then the code table. */
export function categorize(status: number | undefined, code: number | undefined): PartnerCenterErrorCategory {
  if (status === 429) return 'throttled';
  if (status === undefined || status === 408 || status >= 500) return 'transient';
  if (status === 401) return 'auth';
  const byCode = code === undefined ? undefined : ERROR_CODE_CATEGORIES[code];
  if (byCode) return byCode;
  switch (status) {
    case 403:
      // Partner Center refuses business cases with 403 + a code; a bare 403 is a permission problem.
      return code === undefined ? 'auth' : 'business-rule';
    case 404:
      return 'not-found';
    case 409:
    case 412:
      return 'conflict';
    default:
      return 'invalid-input';
  }
}

export interface PartnerCenterErrorInit {
  operation: string;
  status: number | undefined;
  code?: number;
  description: string;
  requestId?: string;
  correlationId?: string;
  cv?: string;
  serverId?: string;
  retryAfterMs?: number;
  category?: PartnerCenterErrorCategory;
  /** For "already in progress" conflicts: the existing upgrade id when the message names one. */
  existingUpgradeId?: string;
  cause?: unknown;
}

/** The one error a Partner Center call fails with (the credential's errors are in credential-errors.ts). */
export class PartnerCenterError extends Error {
  override readonly name: string = 'PartnerCenterError';
  readonly operation: string;
  /** HTTP status; undefined when no response arrived (network failure, timeout, deadline). */
  readonly status: number | undefined;
  /** Partner Center error code (900106, ...), a number even when the body sent a string. */
  readonly code: number | undefined;
  readonly description: string;
  readonly requestId: string | undefined;
  readonly correlationId: string | undefined;
  readonly cv: string | undefined;
  readonly serverId: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly category: PartnerCenterErrorCategory;
  readonly existingUpgradeId: string | undefined;

  constructor(init: PartnerCenterErrorInit) {
    const category = init.category ?? categorize(init.status, init.code);
    const what = [
      init.status === undefined ? 'no response' : `HTTP ${init.status}`,
      init.code === undefined ? undefined : `code ${init.code}`,
    ]
      .filter(Boolean)
      .join(', ');
    const ids = [
      init.requestId ? `MS-RequestId ${init.requestId}` : undefined,
      init.correlationId ? `MS-CorrelationId ${init.correlationId}` : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    super(
      `Partner Center ${init.operation} failed (${what}, ${category}): ${init.description}${ids ? ` [${ids}]` : ''}`,
      {
        cause: init.cause,
      },
    );
    this.operation = init.operation;
    this.status = init.status;
    this.code = init.code;
    this.description = init.description;
    this.requestId = init.requestId;
    this.correlationId = init.correlationId;
    this.cv = init.cv;
    this.serverId = init.serverId;
    this.retryAfterMs = init.retryAfterMs;
    this.category = category;
    this.existingUpgradeId = init.existingUpgradeId;
  }

  /** Throttled or transient: the same call may succeed later. */
  get retryable(): boolean {
    return this.category === 'throttled' || this.category === 'transient';
  }
}

/** The caller's deadline (AbortSignal) fired, or every attempt timed out. Always `transient`. */
export class PartnerCenterTimeoutError extends PartnerCenterError {
  override readonly name = 'PartnerCenterTimeoutError';
}

/** No HTTP response: connection refused or reset, DNS failure. Always `transient`. */
export class PartnerCenterNetworkError extends PartnerCenterError {
  override readonly name = 'PartnerCenterNetworkError';
}

export interface ParsedErrorBody {
  code: number | undefined;
  description: string | undefined;
}

/**
 * Reads the standard body `{code, description, data, source}` (code number or string), the 429 body
 * `{statusCode, message}`, ARM-style `{error: {code, message}}` and OAuth `{error, error_description}`.
 */
export function parseErrorBody(text: string | undefined): ParsedErrorBody {
  const body = parseJson(text);
  if (!isObject(body)) return { code: undefined, description: undefined };
  const nested = prop(body, 'error');
  const code = int(prop(body, 'code')) ?? (isObject(nested) ? int(prop(nested, 'code')) : undefined);
  const description =
    str(prop(body, 'description')) ??
    str(prop(body, 'message')) ??
    (isObject(nested) ? str(prop(nested, 'message')) : undefined) ??
    str(prop(body, 'error_description'));
  return { code, description };
}

const GUID_IN_TEXT = new RegExp(GUID_SOURCE, 'i');
const IN_PROGRESS_CODES = new Set([900109, 900112, 900113, 900114]);

/** The PartnerCenterError for a non-success response: never throws, whatever the body holds. */
export function errorFromResponse(
  operation: string,
  response: PipelineResponse,
  fallbackIds: { requestId?: string; correlationId?: string } = {},
): PartnerCenterError {
  const text = response.bodyAsText ?? undefined;
  const parsed = parseErrorBody(text);
  const description = parsed.description
    ? snippet(parsed.description, 500)
    : text && text.trim()
      ? `non-JSON error body: ${snippet(text)}`
      : 'empty error body';
  const existing =
    parsed.code !== undefined && IN_PROGRESS_CODES.has(parsed.code) ? GUID_IN_TEXT.exec(description) : null;
  return new PartnerCenterError({
    operation,
    status: response.status,
    code: parsed.code,
    description,
    requestId: response.headers.get('ms-requestid') ?? fallbackIds.requestId,
    correlationId: response.headers.get('ms-correlationid') ?? fallbackIds.correlationId,
    cv: response.headers.get('ms-cv'),
    serverId: response.headers.get('ms-serverid'),
    retryAfterMs: readRetryAfter(response.headers, response.status === 429 ? text : undefined),
    existingUpgradeId: existing?.[0]?.toLowerCase(),
  });
}

const CATEGORIES = new Set<string>(PARTNER_CENTER_ERROR_CATEGORIES);

/** The category of any error a Partner Center call can throw (client or credential); undefined if unknown. */
export function errorCategory(error: unknown): PartnerCenterErrorCategory | undefined {
  if (error instanceof PartnerCenterError) return error.category;
  const category = isObject(error) ? error.category : undefined;
  return typeof category === 'string' && CATEGORIES.has(category)
    ? (category as PartnerCenterErrorCategory)
    : undefined;
}

/** True for errors worth retrying later (throttled or transient), from the client or the credential. */
export function isRetryableError(error: unknown): boolean {
  const category = errorCategory(error);
  return category === 'throttled' || category === 'transient';
}
