import type { TokenCredential } from '@azure/core-auth';
import {
  createDefaultHttpClient,
  createEmptyPipeline,
  createHttpHeaders,
  createPipelineRequest,
  isRestError,
  userAgentPolicy,
  type HttpClient,
  type Pipeline,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { noTelemetry, type Telemetry } from '../telemetry/telemetry';
import {
  PartnerCenterError,
  PartnerCenterNetworkError,
  PartnerCenterTimeoutError,
  errorCategory,
  errorFromResponse,
  type PartnerCenterErrorInit,
} from './errors';
import { newGuid, toCorrelationId, upgradeIdFromLocation } from './ids';
import { silentLogger, type PartnerCenterLogger } from './logger';
import { AttemptTimeoutError, attemptTimeoutPolicy } from './policies/attempt-timeout';
import { partnerCenterAuthPolicy } from './policies/auth';
import { partnerCenterHeadersPolicy } from './policies/headers';
import { partnerCenterRetryPolicy, type RetryDelay } from './policies/retry';
import { partnerCenterTelemetryPolicy } from './policies/telemetry';
import { snippet } from './redact';
import type {
  CallOptions,
  CreateUpgradeResult,
  Eligibility,
  ProductUpgradeRequest,
  ProductUpgrades,
  UpgradeStatusResult,
} from './types';
import { PATHS, UnreadableBodyError, isUnreadableJson, readEligibility, readStatus, requestBody } from './wire';

export interface PartnerCenterClientOptions {
  /** PARTNER_CENTER_API_URL, e.g. https://api.partnercenter.microsoft.com (or the simulator's http://127.0.0.1:port). */
  baseUrl: string;
  credential: TokenCredential;
  /** Sent as MS-PartnerCenter-Application and as the User-Agent prefix. */
  applicationName: string;
  /** X-Locale; default en-US. */
  locale?: string;
  /** Timeout of one HTTP attempt, body included. */
  attemptTimeoutMs: number;
  /** Attempts per call, the first included. */
  maxAttempts: number;
  /** Backoff between attempts when the server sent no Retry-After; default 1 s doubling to 30 s, jittered. */
  retryDelay?: RetryDelay;
  /** A Retry-After longer than this is handed back to the caller (throttled error) instead of waited; default 60 s. */
  maxRetryAfterMs?: number;
  telemetry?: Telemetry;
  logger?: PartnerCenterLogger;
  /** Transport override (tests); default core's Node HTTP client. */
  httpClient?: HttpClient;
}

export const DEFAULT_RETRY_DELAY: RetryDelay = { baseMs: 1000, maxMs: 30_000 };

type Operation = 'checkEligibility' | 'createUpgrade' | 'getUpgradeStatus';

interface CallIds {
  requestId: string;
  correlationId: string;
}

/**
 * The Partner Center product-upgrade client. One pipeline, outermost first:
 * user agent → contract headers (MS-RequestId fixed per logical call) → retry → auth (token per attempt) →
 * telemetry (one dependency per attempt) → attempt timeout → HTTP.
 */
export class PartnerCenterClient implements ProductUpgrades {
  private readonly baseUrl: string;
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient;
  private readonly telemetry: Telemetry;
  private readonly logger: PartnerCenterLogger;
  /** Requests sent with `throttling: 'return'`; the retry policy hands their 429s straight back. */
  private readonly returnsThrottled = new WeakSet<PipelineRequest>();
  readonly credential: TokenCredential;

  constructor(options: PartnerCenterClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.credential = options.credential;
    this.telemetry = options.telemetry ?? noTelemetry;
    this.logger = options.logger ?? silentLogger;
    this.httpClient = options.httpClient ?? createDefaultHttpClient();
    const logger = this.logger;
    const pipeline = createEmptyPipeline();
    pipeline.addPolicy(userAgentPolicy({ userAgentPrefix: options.applicationName }));
    pipeline.addPolicy(
      partnerCenterHeadersPolicy({ applicationName: options.applicationName, locale: options.locale }),
    );
    pipeline.addPolicy(
      partnerCenterRetryPolicy({
        maxAttempts: options.maxAttempts,
        retryDelay: options.retryDelay ?? DEFAULT_RETRY_DELAY,
        maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
        returnsThrottled: (request) => this.returnsThrottled.has(request),
        // A 200 whose body is not JSON (a proxy page, a cut body) is worth another read; creates answer 202.
        isRetryableResponse: (response) =>
          response.status === 200 && isUnreadableJson(response.bodyAsText ?? undefined),
        onRetry: (event) =>
          logger('warn', 'Partner Center call will be retried', {
            attempt: event.attempt,
            delayMs: event.delayMs,
            status: event.status,
            errorCode: event.errorCode,
            retryAfterMs: event.retryAfterMs,
            path: new URL(event.url).pathname,
          }),
      }),
    );
    pipeline.addPolicy(partnerCenterAuthPolicy(options.credential));
    pipeline.addPolicy(partnerCenterTelemetryPolicy(this.telemetry, this.logger));
    pipeline.addPolicy(attemptTimeoutPolicy(options.attemptTimeoutMs));
    this.pipeline = pipeline;
  }

  async checkEligibility(request: ProductUpgradeRequest, options: CallOptions = {}): Promise<Eligibility> {
    const ids = this.ids(options);
    const response = await this.send('checkEligibility', PATHS.eligibility, request, ids, options);
    this.expect('checkEligibility', response, [200], ids);
    return this.read('checkEligibility', response, ids, (text) => readEligibility(text, request));
  }

  async createUpgrade(
    request: ProductUpgradeRequest,
    options: CallOptions & { requestId?: string } = {},
  ): Promise<CreateUpgradeResult> {
    const ids = this.ids(options);
    const response = await this.send('createUpgrade', PATHS.create, request, ids, options);
    this.expect('createUpgrade', response, [200, 201, 202], ids);
    const upgradeId = upgradeIdFromLocation(response.headers.get('location'));
    if (!upgradeId) {
      // The upgrade may exist: a replay with the same requestId, or eligibility's upgradeId, recovers its id.
      throw this.fail(
        new PartnerCenterError({
          operation: 'createUpgrade',
          status: response.status,
          category: 'transient',
          description: `the response has no usable Location header (got ${JSON.stringify(snippet(response.headers.get('location') ?? '', 120))}); the upgrade may exist — check eligibility for its upgradeId`,
          ...this.responseIds(response, ids),
        }),
      );
    }
    return { upgradeId, requestId: ids.requestId };
  }

  async getUpgradeStatus(
    request: ProductUpgradeRequest & { upgradeId: string },
    options: CallOptions = {},
  ): Promise<UpgradeStatusResult> {
    const ids = this.ids(options);
    const response = await this.send('getUpgradeStatus', PATHS.status(request.upgradeId), request, ids, options);
    this.expect('getUpgradeStatus', response, [200], ids);
    return this.read('getUpgradeStatus', response, ids, (text) => readStatus(text, request));
  }

  private ids(options: CallOptions & { requestId?: string }): CallIds {
    return { requestId: options.requestId ?? newGuid(), correlationId: toCorrelationId(options.correlationId) };
  }

  private async send(
    operation: Operation,
    path: string,
    body: ProductUpgradeRequest,
    ids: CallIds,
    options: CallOptions,
  ): Promise<PipelineResponse> {
    const url = `${this.baseUrl}${path}`;
    const request = createPipelineRequest({
      url,
      method: 'POST',
      body: requestBody(body),
      headers: createHttpHeaders({ 'MS-RequestId': ids.requestId, 'MS-CorrelationId': ids.correlationId }),
      abortSignal: options.abortSignal,
      // config.ts admits plain http only for loopback (the simulator).
      allowInsecureConnection: url.startsWith('http:'),
    });
    if (options.throttling === 'return') this.returnsThrottled.add(request);
    try {
      return await this.pipeline.sendRequest(this.httpClient, request);
    } catch (error) {
      throw this.fail(this.translate(operation, error, ids, options.abortSignal));
    }
  }

  private translate(operation: Operation, error: unknown, ids: CallIds, signal: AbortSignal | undefined): Error {
    if (error instanceof PartnerCenterError) return error;
    // Credential errors (RefreshTokenInvalidError, ...) keep their own type: operators act on them.
    if (errorCategory(error) !== undefined && error instanceof Error) return error;
    if (signal?.aborted) {
      return new PartnerCenterTimeoutError({
        operation,
        status: undefined,
        description: "the caller's deadline passed before Partner Center answered",
        category: 'transient',
        ...ids,
        cause: error,
      });
    }
    if (error instanceof AttemptTimeoutError) {
      return new PartnerCenterTimeoutError({
        operation,
        status: undefined,
        description: `no answer within ${error.timeoutMs} ms on any attempt`,
        category: 'transient',
        ...ids,
        cause: error,
      });
    }
    if (isRestError(error) && error.response === undefined) {
      return new PartnerCenterNetworkError({
        operation,
        status: undefined,
        description: `network failure (${error.code ?? 'unknown'}): ${snippet(error.message)}`,
        category: 'transient',
        ...ids,
        cause: error,
      });
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  private expect(operation: Operation, response: PipelineResponse, ok: number[], ids: CallIds): void {
    if (ok.includes(response.status)) return;
    throw this.fail(errorFromResponse(operation, response, ids));
  }

  private read<T>(
    operation: Operation,
    response: PipelineResponse,
    ids: CallIds,
    parse: (text: string | undefined) => T,
  ): T {
    try {
      return parse(response.bodyAsText ?? undefined);
    } catch (error) {
      if (!(error instanceof UnreadableBodyError)) throw error;
      throw this.fail(
        new PartnerCenterError({
          operation,
          status: response.status,
          category: 'transient',
          description: `${error.message} (${snippet(response.bodyAsText ?? '', 120)})`,
          ...this.responseIds(response, ids),
        }),
      );
    }
  }

  private responseIds(
    response: PipelineResponse,
    ids: CallIds,
  ): Pick<PartnerCenterErrorInit, 'requestId' | 'correlationId' | 'cv' | 'serverId'> {
    return {
      requestId: response.headers.get('ms-requestid') ?? ids.requestId,
      correlationId: response.headers.get('ms-correlationid') ?? ids.correlationId,
      cv: response.headers.get('ms-cv'),
      serverId: response.headers.get('ms-serverid'),
    };
  }

  /** Logs the failure (ids and codes only) and signals auth failures to operators. */
  private fail(error: Error): Error {
    const pc = error instanceof PartnerCenterError ? error : undefined;
    const category = errorCategory(error);
    const properties = {
      errorName: error.name,
      category,
      operation: pc?.operation,
      status: pc?.status,
      code: pc?.code,
      requestId: pc?.requestId,
      correlationId: pc?.correlationId,
      cv: pc?.cv,
      retryAfterMs: pc?.retryAfterMs,
    };
    // Operators act on auth failures; throttling and outages are worth a look; refusals (not eligible, conflict, not
    // found) are ordinary answers the caller handles.
    const level =
      category === 'auth' ? 'error' : category === 'throttled' || category === 'transient' ? 'warn' : 'info';
    this.logger(level, `Partner Center call failed: ${error.message}`, properties);
    if (pc?.category === 'auth') {
      this.telemetry.event('PartnerCenterAuthFailed', {
        operation: pc.operation,
        status: String(pc.status ?? ''),
        code: String(pc.code ?? ''),
        requestId: pc.requestId ?? '',
        correlationId: pc.correlationId ?? '',
      });
    }
    return error;
  }
}
