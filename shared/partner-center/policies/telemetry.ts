import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { GUID_SOURCE } from '../../ids';
import type { Telemetry } from '../../telemetry/telemetry';
import type { PartnerCenterLogger } from '../logger';
import { AttemptTimeoutError } from './attempt-timeout';

export const partnerCenterTelemetryPolicyName = 'partnerCenterTelemetryPolicy';

const GUID_SEGMENT = new RegExp(`/${GUID_SOURCE}(?=/|$)`, 'gi');

/** "POST /v1/productUpgrades/{id}/status": the route without ids, so dependency names stay few. */
export function dependencyName(method: string, url: string): string {
  const path = new URL(url).pathname.replace(GUID_SEGMENT, '/{id}');
  return `${method} ${path}`;
}

/**
 * Reports every HTTP attempt as an Application Insights dependency with MS-RequestId, MS-CorrelationId, MS-CV and
 * MS-ServerId (what Microsoft support asks for), and logs it at debug level. Sits inside the retry policy, so each
 * retry is its own dependency; headers are read, never the Authorization value or a body.
 */
export function partnerCenterTelemetryPolicy(telemetry: Telemetry, logger: PartnerCenterLogger): PipelinePolicy {
  return {
    name: partnerCenterTelemetryPolicyName,
    async sendRequest(request, next) {
      const started = Date.now();
      const name = dependencyName(request.method, request.url);
      const target = new URL(request.url).host;
      const ids = {
        requestId: request.headers.get('ms-requestid') ?? '',
        correlationId: request.headers.get('ms-correlationid') ?? '',
      };
      try {
        const response = await next(request);
        const durationMs = Date.now() - started;
        const properties = {
          'MS-RequestId': response.headers.get('ms-requestid') ?? ids.requestId,
          'MS-CorrelationId': response.headers.get('ms-correlationid') ?? ids.correlationId,
          'MS-CV': response.headers.get('ms-cv') ?? '',
          'MS-ServerId': response.headers.get('ms-serverid') ?? '',
        };
        telemetry.dependency({
          name,
          target,
          durationMs,
          success: response.status < 400,
          resultCode: response.status,
          properties,
        });
        logger('debug', 'Partner Center call', {
          dependency: name,
          status: response.status,
          durationMs,
          ...properties,
        });
        return response;
      } catch (error) {
        const durationMs = Date.now() - started;
        const resultCode = error instanceof AttemptTimeoutError ? 'Timeout' : errorName(error);
        const properties = { 'MS-RequestId': ids.requestId, 'MS-CorrelationId': ids.correlationId };
        telemetry.dependency({ name, target, durationMs, success: false, resultCode, properties });
        logger('debug', 'Partner Center call got no response', {
          dependency: name,
          resultCode,
          durationMs,
          ...properties,
        });
        throw error;
      }
    },
  };
}

function errorName(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'Error';
}
