/**
 * RFC 9457 problem details. Every HTTP error the app answers goes through here, so that bodies, the content type
 * and Retry-After are uniform. Plain objects shaped like `HttpResponseInit` (shared/ does not import the
 * Functions library).
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'urn:azure-plan-upgrades:problem:';

/** The problem types the API answers; each is documented in the OpenAPI document. */
export type ProblemType =
  | 'validation'
  | 'unsupported-media-type'
  | 'payload-too-large'
  | 'not-found'
  | 'conflict'
  | 'webhook-id-reused'
  | 'request-in-progress'
  | 'not-eligible'
  | 'partner-center-rejected'
  | 'dependency-unavailable'
  | 'partner-center-auth'
  | 'invalid-signature'
  | 'webhook-signing-unavailable'
  | 'method-not-allowed';

export interface FieldError {
  /** JSON pointer-like path of the offending field, e.g. "customerId". */
  field: string;
  message: string;
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export interface ProblemResponse {
  status: number;
  headers: Record<string, string>;
  jsonBody: ProblemDetails;
}

export function problemType(type: ProblemType): string {
  return `${TYPE_BASE}${type}`;
}

export function problem(
  status: number,
  type: ProblemType,
  title: string,
  extra: Omit<Partial<ProblemDetails>, 'type' | 'title' | 'status'> & { retryAfterSeconds?: number } = {},
): ProblemResponse {
  const { retryAfterSeconds, ...fields } = extra;
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE, 'cache-control': 'no-store' };
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  const body: ProblemDetails = { type: problemType(type), title, status };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) body[key] = value;
  return { status, headers, jsonBody: body };
}

/** 400 naming every failing field. */
export function validationProblem(errors: FieldError[], instance?: string): ProblemResponse {
  const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  return problem(400, 'validation', 'The request is not valid', { detail, errors, instance });
}

/** 503 for a failing dependency: never a 500, never a stack trace. */
export function dependencyProblem(dependency: string, retryAfterSeconds: number, instance?: string): ProblemResponse {
  return problem(503, 'dependency-unavailable', `${dependency} is unavailable`, {
    detail: `${dependency} did not answer as expected; retry after ${Math.ceil(retryAfterSeconds)} seconds.`,
    retryAfterSeconds,
    instance,
  });
}
