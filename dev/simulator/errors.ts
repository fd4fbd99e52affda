import { randomUUID } from 'node:crypto';
import type { IneligibilityReason } from './scenario';

/** Partner Center's error body for any 4xx/5xx except 429: `code` is an integer. */
export interface PartnerCenterErrorBody {
  code: number;
  description: string;
  data: unknown[];
  source: string;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** JSON-serialized when an object; sent verbatim when a string; no body when undefined. */
  body?: unknown;
}

export function pcError(status: number, code: number, description: string): SimResponse {
  const body: PartnerCenterErrorBody = { code, description, data: [], source: 'PartnerFD' };
  return { status, body };
}

/** The 429 body is a different shape: statusCode + message, and Retry-After in seconds. */
export function throttled(retryAfterSeconds: number): SimResponse {
  return {
    status: 429,
    headers: { 'Retry-After': String(retryAfterSeconds) },
    body: { statusCode: 429, message: `Rate limit is exceeded. Try again in ${retryAfterSeconds} seconds.` },
  };
}

/**
 * How ineligibility surfaces (a choice, the docs do not say it outright): Partner Center's error-code table lists
 * these codes as 403s whose wording is about starting an upgrade, and the eligibility shape has `isEligible` plus a
 * free-text `reason`. So eligibility answers 200 with `isEligible: false` and the code's text as `reason`, and
 * create answers the 403 with that code.
 */
export const INELIGIBILITY: Record<IneligibilityReason, { code: number; text: string }> = {
  suspendedSubscriptions: {
    code: 900105,
    text: "The customer has suspended Azure subscriptions. They can't be moved to an Azure plan.",
  },
  noAzureSubscriptions: { code: 900108, text: 'The customer does not have any Azure subscriptions.' },
  azurePartnerSharedServices: {
    code: 900119,
    text: 'The customer is an Azure Partner Shared Services customer and is not eligible for an upgrade.',
  },
  boughtRecently: {
    code: 900130,
    text: 'The customer purchased Azure subscriptions recently. Try the upgrade again later.',
  },
  // No specific code is documented; 900120 is the generic "can't process the upgrade" (see README, Choices).
  noCustomerAgreement: {
    code: 900120,
    text: 'The customer has not accepted the Microsoft Customer Agreement, which an Azure plan requires.',
  },
};

export const PC_ERRORS = {
  tokenMissing: () => pcError(401, 800001, 'Partner token missing or invalid.'),
  tokenExpired: () => pcError(401, 800001, 'The partner token has expired.'),
  appOnly: () => pcError(403, 900329, 'This resource does not support app-only authentication.'),
  // Reported outside Microsoft's docs: App+User calls without MFA, enforced from 2026.
  mfaRequired: () =>
    pcError(401, 900421, 'Multi-factor authentication is required for App+User access; the token has no MFA claim.'),
  invalidInput: (detail: string) => pcError(400, 800002, `Invalid request input: ${detail}`),
  invalidCustomerId: (value: string) => pcError(400, 900118, `Invalid customer id '${value}'.`),
  noRelationship: () => pcError(403, 20002, 'No commerce relationship exists between the partner and the customer.'),
  upgradeNotFound: (id: string) => pcError(404, 900106, `No upgrade request was found for the upgrade id ${id}.`),
  upgradeInProgress: (id: string) =>
    pcError(409, 900109, `An upgrade is already in progress for this customer. Upgrade id: ${id}.`),
  upgradeCompleted: (id: string) => pcError(400, 900110, `The upgrade is already completed. Upgrade id: ${id}.`),
  otherCustomer: (id: string) => pcError(400, 900111, `The upgrade id ${id} does not belong to this customer.`),
  unexpected: () => pcError(500, 800003, 'An unexpected error occurred in the service.'),
  busy: () => pcError(503, 800003, 'The service is busy. Try again later.'),
  timeout: () => pcError(408, 800003, 'The request timed out.'),
  notFoundRoute: () => pcError(404, 800002, 'The resource was not found.'),
  // Microsoft's bulk tool reads HTTP 400 with code 2000 after the last page as "all records fetched".
  endOfRecords: () => pcError(400, 2000, 'All records have been fetched; there is no next page.'),
  methodNotAllowed: () => pcError(405, 800002, 'The HTTP method is not allowed on this resource.'),
};

/** Entra ID's OAuth error body (RFC 6749 §5.2 plus Entra's extra fields). */
export function entraError(status: number, error: string, aadsts: number, text: string, now: number): SimResponse {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  return {
    status,
    body: {
      error,
      error_description:
        `AADSTS${aadsts}: ${text} Trace ID: ${traceId} Correlation ID: ${correlationId} ` +
        `Timestamp: ${new Date(now)
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, 'Z')}`,
      error_codes: [aadsts],
      timestamp: new Date(now)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z'),
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${aadsts}`,
    },
  };
}
