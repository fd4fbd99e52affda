import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { newGuid } from '../../ids';

export const partnerCenterHeadersPolicyName = 'partnerCenterHeadersPolicy';

export interface HeadersPolicyOptions {
  applicationName: string;
  /** X-Locale; Partner Center's default is en-US. */
  locale?: string;
}

/**
 * The request headers Partner Center documents ("Partner Center REST headers"). Placed OUTSIDE the retry policy: an
 * MS-RequestId set here (or by the client, per logical call) is then the same on every retry, which is what makes a
 * retried create idempotent. A caller-set MS-RequestId / MS-CorrelationId is kept.
 */
export function partnerCenterHeadersPolicy(options: HeadersPolicyOptions): PipelinePolicy {
  const locale = options.locale ?? 'en-US';
  return {
    name: partnerCenterHeadersPolicyName,
    sendRequest(request, next) {
      const headers = request.headers;
      headers.set('Accept', 'application/json');
      if (request.body !== undefined && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
      headers.set('MS-Contract-Version', 'v1');
      headers.set('X-Locale', locale);
      headers.set('MS-PartnerCenter-Application', options.applicationName);
      if (!headers.get('MS-RequestId')) headers.set('MS-RequestId', newGuid());
      if (!headers.get('MS-CorrelationId')) headers.set('MS-CorrelationId', newGuid());
      return next(request);
    },
  };
}
