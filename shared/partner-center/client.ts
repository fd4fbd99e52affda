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
import { asError } from '../errors';
import { noTelemetry, type Telemetry } from '../telemetry/telemetry';
import {
  PartnerCenterError,
  PartnerCenterNetworkError,
  PartnerCenterTimeoutError,
  errorCategory,
  errorFromResponse,
  parseErrorBody,
  type PartnerCenterErrorInit,
} from './errors';
import {
  END_OF_RECORDS_CODE,
  FLEET_PATHS,
  MAX_PAGE_SIZE,
  isAzurePlanSubscription,
  isCustomerAgreement,
  isLegacyAzureSubscription,
  readAgreement,
  readCollection,
  readCustomer,
  readSubscription,
  readUsageRecord,
} from './fleet-wire';
import { isGuid, newGuid } from '../ids';
import { toCorrelationId, upgradeIdFromLocation } from './ids';
import { LinkError, nextCursor, parsePageCursor, resolveLink, sameCursor } from './links';
import { silentLogger, type PartnerCenterLogger } from './logger';
import { AttemptTimeoutError, attemptTimeoutPolicy } from './policies/attempt-timeout';
import { partnerCenterAuthPolicy } from './policies/auth';
import { partnerCenterHeadersPolicy } from './policies/headers';
import { partnerCenterRetryPolicy, type RetryDelay } from './policies/retry';
import { partnerCenterTelemetryPolicy } from './policies/telemetry';
import { snippet } from './redact';
import {
  CUSTOMER_AGREEMENT_TYPE,
  type CallOptions,
  type CreateUpgradeResult,
  type Customer,
  type CustomerAgreement,
  type CustomerDirectory,
  type CustomerSubscriptions,
  type CustomerUsageRecord,
  type Eligibility,
  type ListOptions,
  type Page,
  type PageCursor,
  type PagedList,
  type ProductUpgradeRequest,
  type ProductUpgrades,
  type UpgradeStatusResult,
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

type Operation =
  | 'checkEligibility'
  | 'createUpgrade'
  | 'getUpgradeStatus'
  | 'listCustomers'
  | 'listUsageRecords'
  | 'getCustomerSubscriptions'
  | 'getCustomerAgreements';

interface CallIds {
  requestId: string;
  correlationId: string;
}

interface OutgoingRequest {
  method: 'GET' | 'POST';
  url: string;
  body?: string;
  /** Headers of a next link (MS-ContinuationToken), sent as they are. */
  headers?: Record<string, string>;
}

/** One collection the client pages through: its first request and how to read its items. */
interface CollectionSpec<T> {
  list: PagedList;
  operation: Operation;
  /** Path of the first page, without `size`. */
  firstPath: string;
  /** `size` of the first page (checked when the listing starts; a resumed listing keeps its link's). */
  pageSize?: number;
  readItem: (value: unknown) => T | undefined;
}

/**
 * The Partner Center client: the product-upgrade operations and the fleet's customer directory. One pipeline,
 * outermost first: user agent → contract headers (MS-RequestId fixed per logical call) → retry → auth (token per
 * attempt) → telemetry (one dependency per attempt) → attempt timeout → HTTP. Each page of a list is its own logical
 * call (a new MS-RequestId; its retries keep it); the pages of one listing share one MS-CorrelationId.
 */
export class PartnerCenterClient implements ProductUpgrades, CustomerDirectory {
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
    const response = await this.send('checkEligibility', this.post(PATHS.eligibility, request), ids, options);
    this.expect('checkEligibility', response, [200], ids);
    return this.read('checkEligibility', response, ids, (text) => readEligibility(text, request));
  }

  async createUpgrade(
    request: ProductUpgradeRequest,
    options: CallOptions & { requestId?: string } = {},
  ): Promise<CreateUpgradeResult> {
    const ids = this.ids(options);
    const response = await this.send('createUpgrade', this.post(PATHS.create, request), ids, options);
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
    const response = await this.send(
      'getUpgradeStatus',
      this.post(PATHS.status(request.upgradeId), request),
      ids,
      options,
    );
    this.expect('getUpgradeStatus', response, [200], ids);
    return this.read('getUpgradeStatus', response, ids, (text) => readStatus(text, request));
  }

  listCustomers(options: ListOptions = {}): AsyncIterableIterator<Page<Customer>> {
    return this.pages(
      {
        list: 'customers',
        operation: 'listCustomers',
        firstPath: FLEET_PATHS.customers,
        pageSize: options.pageSize ?? MAX_PAGE_SIZE,
        readItem: readCustomer,
      },
      options,
    );
  }

  listUsageRecords(options: ListOptions = {}): AsyncIterableIterator<Page<CustomerUsageRecord>> {
    return this.pages(
      {
        list: 'usageRecords',
        operation: 'listUsageRecords',
        firstPath: FLEET_PATHS.usageRecords,
        pageSize: options.pageSize,
        readItem: readUsageRecord,
      },
      options,
    );
  }

  async getCustomerSubscriptions(
    customerId: string,
    options: CallOptions & { resellerMpnId?: string } = {},
  ): Promise<CustomerSubscriptions> {
    const operation = 'getCustomerSubscriptions';
    const id = this.customerId(operation, customerId);
    let path = FLEET_PATHS.subscriptions(id);
    if (options.resellerMpnId !== undefined) {
      if (!/^\d{1,12}$/.test(options.resellerMpnId)) {
        throw this.fail(this.invalidInput(operation, 'resellerMpnId must be an MPN id (digits only)'));
      }
      path += `?mpn_id=${options.resellerMpnId}`;
    }
    const all = await this.collect(
      { list: 'subscriptions', operation, firstPath: path, readItem: readSubscription },
      options,
    );
    return {
      customerId: id,
      all,
      legacy: all.filter(isLegacyAzureSubscription),
      azurePlans: all.filter(isAzurePlanSubscription),
    };
  }

  async getCustomerAgreements(customerId: string, options: CallOptions = {}): Promise<CustomerAgreement[]> {
    const operation = 'getCustomerAgreements';
    const id = this.customerId(operation, customerId);
    // Always the type: without it the service answers the older Microsoft Cloud Agreement.
    const path = `${FLEET_PATHS.agreements(id)}?agreementType=${CUSTOMER_AGREEMENT_TYPE}`;
    const all = await this.collect(
      { list: 'agreements', operation, firstPath: path, readItem: readAgreement },
      options,
    );
    // Kept only when the item says it is one: a service that ignored the type must not pass for an attestation.
    return all.filter(isCustomerAgreement);
  }

  /** Every item of a small collection (a customer's subscriptions or agreements), following next links. */
  private async collect<T>(spec: CollectionSpec<T>, options: CallOptions): Promise<T[]> {
    const items: T[] = [];
    for await (const page of this.pages(spec, options)) items.push(...page.items);
    return items;
  }

  /**
   * Pages of a collection, one request each, from the first page or a stored cursor, until a page has no next link
   * (or a continuation request answers 400 with code 2000: all records fetched). A page whose next link cannot be
   * followed fails before it is yielded, so the caller's stored cursor stays on the last good page.
   */
  private async *pages<T>(spec: CollectionSpec<T>, options: ListOptions): AsyncGenerator<Page<T>, void, undefined> {
    const { operation } = spec;
    const correlationId = toCorrelationId(options.correlationId);
    let previous: PageCursor | undefined;
    let url: string;
    let headers: Record<string, string> | undefined;
    if (options.resumeFrom !== undefined) {
      previous = this.storedCursor(operation, spec.list, options.resumeFrom);
      url = this.follow(operation, previous);
      headers = previous.headers;
    } else {
      const size = spec.pageSize === undefined ? '' : `?size=${this.pageSize(operation, spec.pageSize)}`;
      url = `${this.baseUrl}${spec.firstPath}${size}`;
    }
    for (;;) {
      const ids: CallIds = { requestId: newGuid(), correlationId };
      const response = await this.send(operation, { method: 'GET', url, headers }, ids, options);
      if (previous !== undefined && this.isEndOfRecords(response)) return;
      this.expect(operation, response, [200], ids);
      const page = this.read(operation, response, ids, (text) => {
        const collection = readCollection(text, operation, spec.readItem);
        let next: PageCursor | undefined;
        try {
          next = nextCursor(spec.list, collection, new URL(url), this.baseUrl);
        } catch (error) {
          if (error instanceof LinkError) throw new UnreadableBodyError(`${operation}: ${error.message}`);
          throw error;
        }
        if (next && previous && sameCursor(next, previous)) {
          throw new UnreadableBodyError(`${operation}: the next link repeats the page just fetched`);
        }
        const result: Page<T> = {
          items: collection.items,
          unreadable: collection.unreadable,
          requestId: ids.requestId,
        };
        if (next) result.next = next;
        if (collection.totalCount !== undefined) result.totalCount = collection.totalCount;
        return result;
      });
      yield page;
      if (!page.next) return;
      previous = page.next;
      url = this.follow(operation, page.next);
      headers = page.next.headers;
    }
  }

  /** HTTP 400 with Partner Center code 2000 on a continuation request: the list is complete. */
  private isEndOfRecords(response: PipelineResponse): boolean {
    return response.status === 400 && parseErrorBody(response.bodyAsText ?? undefined).code === END_OF_RECORDS_CODE;
  }

  private storedCursor(operation: Operation, list: PagedList, value: unknown): PageCursor {
    let cursor: PageCursor;
    try {
      cursor = parsePageCursor(value);
      resolveLink(this.baseUrl, cursor.uri);
    } catch (error) {
      if (error instanceof LinkError) throw this.fail(this.invalidInput(operation, `resumeFrom: ${error.message}`));
      throw error;
    }
    if (cursor.list !== list) {
      throw this.fail(this.invalidInput(operation, `resumeFrom is a cursor of ${cursor.list}, not of ${list}`));
    }
    return cursor;
  }

  /** The URL of a cursor already checked by nextCursor or storedCursor. */
  private follow(operation: Operation, cursor: PageCursor): string {
    try {
      return resolveLink(this.baseUrl, cursor.uri).toString();
    } catch (error) {
      if (error instanceof LinkError) throw this.fail(this.invalidInput(operation, error.message));
      throw error;
    }
  }

  private pageSize(operation: Operation, size: number): number {
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
      throw this.fail(this.invalidInput(operation, `pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`));
    }
    return size;
  }

  /** A customer id goes into the path: a GUID, or nothing is sent. */
  private customerId(operation: Operation, customerId: string): string {
    if (!isGuid(customerId)) throw this.fail(this.invalidInput(operation, 'customerId must be a GUID'));
    return customerId.toLowerCase();
  }

  private invalidInput(operation: Operation, description: string): PartnerCenterError {
    return new PartnerCenterError({ operation, status: undefined, category: 'invalid-input', description });
  }

  private post(path: string, body: ProductUpgradeRequest): OutgoingRequest {
    return { method: 'POST', url: `${this.baseUrl}${path}`, body: requestBody(body) };
  }

  private ids(options: CallOptions & { requestId?: string }): CallIds {
    return { requestId: options.requestId ?? newGuid(), correlationId: toCorrelationId(options.correlationId) };
  }

  private async send(
    operation: Operation,
    outgoing: OutgoingRequest,
    ids: CallIds,
    options: CallOptions,
  ): Promise<PipelineResponse> {
    const { url } = outgoing;
    const request = createPipelineRequest({
      url,
      method: outgoing.method,
      body: outgoing.body,
      headers: createHttpHeaders({
        ...outgoing.headers,
        'MS-RequestId': ids.requestId,
        'MS-CorrelationId': ids.correlationId,
      }),
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
    return asError(error);
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
