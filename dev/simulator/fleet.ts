import { formatPartnerCenterDate, type SimulatorClock } from './clock';
import { decisionCode, decisionReason, derivedGuid, legacyCount, relationshipOf, stableInt } from './customers';
import { PC_ERRORS, type SimResponse } from './errors';
import { isGuid } from '../../shared/ids';
import {
  validatePaging,
  type ContinuationPlacement,
  type CustomerSpec,
  type NextLinkForm,
  type PagingSpec,
  type Relationship,
} from './scenario';
import type { CustomerRecord, UpgradeStore } from './upgrades';

/**
 * The fleet routes (all GET): the partner's customers, a customer's subscriptions and agreements, and the usage
 * records — paged the way Partner Center pages, with each documented pitfall behind a switch (PagingSpec). Every
 * answer is derived from the same customer model as the product-upgrade routes (customers.ts).
 */

export type FleetRoute =
  | { kind: 'customers' }
  | { kind: 'usageRecords' }
  | { kind: 'subscriptions'; customerId: string }
  | { kind: 'agreements'; customerId: string };

export type FleetRouteKind = FleetRoute['kind'];

export interface FleetRequest {
  route: FleetRoute;
  query: URLSearchParams;
  /** The MS-ContinuationToken request header. */
  continuationToken?: string;
  /** `http://host:port` as the caller addressed us (absolute next links use it, as a front door would). */
  origin: string;
}

/** Checked before the rate limit: an answer now (a bad request), or the limit's scope and the answer to serve. */
export type PreparedFleetRequest = { answer: SimResponse } | { customerId?: string; serve: () => SimResponse };

export const LEGACY_OFFER = { id: 'MS-AZR-0145P', name: 'Microsoft Azure' };
export const AZURE_PLAN_OFFER = { id: 'DZH318Z0BPS6:0001:DZH318Z0BML6', name: 'Azure plan' };
/** Licence-based offers a customer may hold beside Azure (ids shaped like Partner Center's, not real ones). */
const OTHER_OFFERS = [
  { id: '031C9E47-4802-4248-838E-778FB1D2CC05', name: 'Microsoft 365 Business Standard' },
  { id: '796B6B5F-613C-4E24-A17C-EBA730D49C02', name: 'Office 365 E3' },
  { id: '195416C1-3447-423A-B37B-EE59A99A19C4', name: 'Exchange Online (Plan 1)' },
];
const CUSTOMER_AGREEMENT = 'MicrosoftCustomerAgreement';
const CLOUD_AGREEMENT = 'MicrosoftCloudAgreement';
const AGREEMENT_TEMPLATES: Record<string, { templateId: string; link: string }> = {
  [CUSTOMER_AGREEMENT]: { templateId: '117a6ef5-e8a4-4a86-86a2-1ee08e1ed7e7', link: 'https://aka.ms/customeraccept' },
  [CLOUD_AGREEMENT]: {
    templateId: '998b88de-aa99-4388-a42c-1b3517d49490',
    link: 'https://aka.ms/MicrosoftCloudAgreement',
  },
};
const DAY_MS = 86_400_000;

export const DEFAULT_PAGING: Required<PagingSpec> = {
  maxPageSize: 500,
  defaultPageSize: 100,
  nextLink: 'v1',
  continuation: 'header',
  endWithError2000: false,
};

/** The paging switches in force; the admin API replaces them at run time. */
export class PagingSettings {
  private spec: Required<PagingSpec> = DEFAULT_PAGING;

  constructor(initial: PagingSpec | undefined) {
    this.configure(initial ?? {});
  }

  /** Replaces the settings; what is not given takes its default. */
  configure(spec: PagingSpec): void {
    this.spec = { ...DEFAULT_PAGING, ...validatePaging(spec) };
  }

  get current(): Required<PagingSpec> {
    return { ...this.spec };
  }
}

/** Ground truth of one customer, as far as the partner can see it (an advisor shows nothing beyond its relationship). */
export interface CustomerTruth {
  id: string;
  name: string;
  domain: string;
  relationship: Relationship;
  /** Has an Azure plan (`isUpgraded` in the usage records). */
  onAzurePlan: boolean;
  azurePlans: Array<{ id: string; partnerId?: string }>;
  /** Legacy Microsoft Azure subscriptions with their status and reseller of record. */
  legacySubscriptions: Array<{ id: string; entitlementId: string; status: 'active' | 'suspended'; partnerId?: string }>;
  /** An attested Microsoft Customer Agreement. */
  agreementAttested: boolean;
  /**
   * What eligibility and create answer now: eligible, or the reason (`advisorRelationship`, `upgradeInProgress`,
   * `alreadyUpgraded` or an ineligibility reason) with the Partner Center code a create gets, and the upgrade id.
   */
  eligibility: { isEligible: boolean; reason?: string; reasonCode?: number; upgradeId?: string };
  /** Every upgrade of the customer, oldest first. */
  upgradeIds: string[];
}

export interface FleetSummary {
  customers: number;
  advisors: number;
  onAzurePlan: number;
  withLegacySubscriptions: number;
  agreementAttested: number;
  eligible: number;
  /** Customers per reason they cannot be upgraded now. */
  byReason: Record<string, number>;
}

interface PageToken {
  list: 'customers' | 'usageRecords';
  index: number;
}

/** Opaque to clients: the list and the position of the next item in the listing order. */
function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify({ v: 1, l: token.list, i: token.index })).toString('base64');
}

function decodeToken(text: string, list: PageToken['list']): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as {
      v?: unknown;
      l?: unknown;
      i?: unknown;
    };
    return parsed.v === 1 && parsed.l === list && Number.isInteger(parsed.i) && (parsed.i as number) >= 0
      ? (parsed.i as number)
      : undefined;
  } catch {
    return undefined;
  }
}

function linkUri(form: NextLinkForm, origin: string, path: string, query: URLSearchParams): string {
  const q = query.toString();
  const rooted = q ? `${path}?${q}` : path;
  switch (form) {
    case 'v1':
      return `/v1${rooted}`;
    case 'root':
      return rooted;
    case 'relative':
      return rooted.slice(1);
    case 'absolute':
      return `${origin}/v1${rooted}`;
  }
}

function link(uri: string, token?: string): Record<string, unknown> {
  return { uri, method: 'GET', headers: token === undefined ? [] : [{ key: 'MS-ContinuationToken', value: token }] };
}

function collection(items: unknown[], extra: Record<string, unknown> = {}): SimResponse {
  return { status: 200, body: { totalCount: items.length, items, ...extra, attributes: { objectType: 'Collection' } } };
}

export function companyName(spec: CustomerSpec): string {
  return spec.name ?? `Customer ${spec.id.slice(0, 8)}`;
}

export function domainOf(spec: CustomerSpec): string {
  if (spec.domain) return spec.domain;
  const slug =
    companyName(spec)
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 40) || 'customer';
  return `${slug}${spec.id.slice(0, 4).toLowerCase()}.onmicrosoft.com`;
}

export class FleetApi {
  constructor(
    private readonly store: UpgradeStore,
    private readonly clock: SimulatorClock,
    private readonly paging: PagingSettings,
  ) {}

  prepare(request: FleetRequest): PreparedFleetRequest {
    const { route } = request;
    switch (route.kind) {
      case 'customers':
      case 'usageRecords':
        return this.preparePage(route.kind, request);
      case 'subscriptions': {
        const invalid = this.invalidCustomerId(route.customerId);
        if (invalid) return { answer: invalid };
        const mpnId = request.query.get('mpn_id') ?? undefined;
        if (mpnId !== undefined && !/^\d{1,12}$/.test(mpnId)) {
          return { answer: PC_ERRORS.invalidInput(`mpn_id '${mpnId}' is not an MPN id`) };
        }
        return { customerId: route.customerId, serve: () => this.subscriptions(route.customerId, mpnId) };
      }
      case 'agreements': {
        const invalid = this.invalidCustomerId(route.customerId);
        if (invalid) return { answer: invalid };
        const asked = request.query.get('agreementType');
        // Documented pitfall: without agreementType the service answers the older Microsoft Cloud Agreement.
        const type =
          asked === null
            ? CLOUD_AGREEMENT
            : [CUSTOMER_AGREEMENT, CLOUD_AGREEMENT].find((t) => t.toLowerCase() === asked.toLowerCase());
        if (type === undefined) return { answer: PC_ERRORS.invalidInput(`agreementType '${asked}' is not supported`) };
        return { customerId: route.customerId, serve: () => this.agreements(route.customerId, type) };
      }
    }
  }

  private invalidCustomerId(customerId: string): SimResponse | undefined {
    return isGuid(customerId) ? undefined : PC_ERRORS.invalidCustomerId(customerId);
  }

  /** A reseller customer's record, or the answer Partner Center gives for anyone else (no commerce relationship). */
  private transactable(customerId: string): CustomerRecord | SimResponse {
    const customer = this.store.customerRecord(customerId);
    if (!customer || relationshipOf(customer.spec) !== 'reseller') return PC_ERRORS.noRelationship();
    return customer;
  }

  private preparePage(list: PageToken['list'], request: FleetRequest): PreparedFleetRequest {
    const settings = this.paging.current;
    const sizeParam = request.query.get('size');
    let size = settings.defaultPageSize;
    if (sizeParam !== null) {
      const asked = Number(sizeParam);
      if (!/^\d+$/.test(sizeParam) || asked < 1)
        return { answer: PC_ERRORS.invalidInput('size must be a positive integer') };
      size = asked;
    }
    size = Math.min(size, settings.maxPageSize);
    // The token travels in the MS-ContinuationToken header, with seekOperation=Next in the query; without
    // seekOperation=Next the request is a first page, whatever header it carries.
    const seekNext = request.query.get('seekOperation')?.toLowerCase() === 'next';
    let start = 0;
    if (seekNext) {
      if (!request.continuationToken) {
        return { answer: PC_ERRORS.invalidInput('seekOperation=Next needs the MS-ContinuationToken header') };
      }
      const index = decodeToken(request.continuationToken, list);
      if (index === undefined || index > this.store.customerCount) {
        return { answer: PC_ERRORS.invalidInput('the continuation token is not valid') };
      }
      start = index;
    }
    return {
      serve: () =>
        this.page(list, {
          start,
          size,
          sized: sizeParam !== null || list === 'customers',
          seekNext,
          settings,
          origin: request.origin,
        }),
    };
  }

  private page(
    list: PageToken['list'],
    options: {
      start: number;
      size: number;
      sized: boolean;
      seekNext: boolean;
      settings: Required<PagingSpec>;
      origin: string;
    },
  ): SimResponse {
    const { settings } = options;
    const total = this.store.customerCount;
    const view =
      list === 'customers' ? (c: CustomerRecord) => this.customerView(c) : (c: CustomerRecord) => this.usageView(c);
    if (options.seekNext && options.start >= total && settings.endWithError2000) return PC_ERRORS.endOfRecords();
    const items: unknown[] = [];
    let index = options.start;
    while (index < total && items.length < options.size) {
      const item = view(this.store.customerAt(index++)!);
      if (item !== undefined) items.push(item);
    }
    // The next page starts at the next item that will be listed (usage records skip customers without Azure).
    if (list === 'usageRecords') {
      while (index < total && view(this.store.customerAt(index)!) === undefined) index++;
    }
    const more = index < total;
    const path = list === 'customers' ? '/customers' : '/customers/usagerecords';
    const query = new URLSearchParams();
    if (options.sized) query.set('size', String(options.size));
    const self = link(linkUri(settings.nextLink, options.origin, path, query));
    if (!more && !settings.endWithError2000) return collection(items, { links: { self } });
    // With endWithError2000 the last page points one page further, where the answer is 400 code 2000.
    const token = encodeToken({ list, index });
    query.set('seekOperation', 'Next');
    const next = link(linkUri(settings.nextLink, options.origin, path, query), token);
    const placement: ContinuationPlacement = settings.continuation;
    switch (placement) {
      case 'header':
        return collection(items, { links: { self, next } });
      case 'headerAndBody':
        return collection(items, { links: { self, next }, continuationToken: token });
      case 'bodyOnly':
        return collection(items, { links: { self }, continuationToken: token });
    }
  }

  private customerView(customer: CustomerRecord): Record<string, unknown> {
    const spec = customer.spec;
    const id = spec.id.toLowerCase();
    return {
      id,
      commerceId: derivedGuid(`${id}/commerce`),
      companyProfile: {
        tenantId: id,
        domain: domainOf(spec),
        companyName: companyName(spec),
        attributes: { objectType: 'CustomerCompanyProfile' },
      },
      relationshipToPartner: relationshipOf(spec),
      allowDelegatedAccess: true,
      attributes: { objectType: 'Customer' },
    };
  }

  /** One record per reseller customer with Azure (legacy subscriptions or an Azure plan); undefined otherwise. */
  private usageView(customer: CustomerRecord): Record<string, unknown> | undefined {
    const spec = customer.spec;
    if (relationshipOf(spec) !== 'reseller') return undefined;
    const isUpgraded = this.store.isUpgraded(customer);
    if (!isUpgraded && legacyCount(spec) === 0) return undefined;
    const id = spec.id.toLowerCase();
    const cost = stableInt(`${id}/cost`, 500_000) / 100;
    // A third of the customers have no budget: the documented `budget` without an amount.
    const amount = stableInt(`${id}/budget`, 3) === 0 ? undefined : 1000 * (1 + stableInt(`${id}/amount`, 20));
    return {
      id,
      resourceId: id,
      name: companyName(spec),
      resourceName: companyName(spec),
      isUpgraded,
      budget: amount === undefined ? {} : { amount },
      ...(amount === undefined ? {} : { percentUsed: Math.round((cost / amount) * 10_000) / 100 }),
      totalCost: cost,
      usdTotalCost: cost,
      // The documented example has one or the other.
      ...(stableInt(id, 2) === 0 ? { currencyCode: 'USD' } : { currencyLocale: 'en-US' }),
      lastModifiedDate: formatPartnerCenterDate(this.clock.now()),
      attributes: { objectType: 'CustomerMonthlyUsageRecord' },
    };
  }

  private subscriptions(customerId: string, mpnId: string | undefined): SimResponse {
    const customer = this.transactable(customerId);
    if (!('spec' in customer)) return customer;
    const facts = this.store.facts(customer);
    const key = customer.spec.id.toLowerCase();
    const items = [
      ...facts.legacy.map((fact) => azureView(LEGACY_OFFER, fact)),
      ...facts.azurePlans.map((plan) => azureView(AZURE_PLAN_OFFER, { ...plan, status: 'active' })),
      ...Array.from({ length: customer.spec.otherSubscriptions ?? 0 }, (_, i) =>
        otherView(key, i, this.store.startedAt),
      ),
    ].filter((item) => mpnId === undefined || item.partnerId === mpnId);
    return collection(items);
  }

  private agreements(customerId: string, type: string): SimResponse {
    const customer = this.transactable(customerId);
    if (!('spec' in customer)) return customer;
    const spec = customer.spec;
    // Every reseller customer accepted the older cloud agreement; the customer agreement only when attested.
    const attested = type === CLOUD_AGREEMENT || this.store.facts(customer).agreementAttested;
    if (!attested) return collection([]);
    const key = spec.id.toLowerCase();
    const template = AGREEMENT_TEMPLATES[type];
    const agreedDays = (type === CLOUD_AGREEMENT ? 900 : 30) + stableInt(`${key}/${type}`, 600);
    return collection([
      {
        primaryContact: {
          firstName: 'Alex',
          lastName: companyName(spec).split(' ')[0],
          email: `admin@${domainOf(spec)}`,
          phoneNumber: '+1 425 555 0100',
        },
        templateId: template.templateId,
        dateAgreed: formatPartnerCenterDate(this.store.startedAt - agreedDays * DAY_MS),
        type,
        agreementLink: template.link,
        attributes: { objectType: 'Agreement' },
      },
    ]);
  }

  /** The ground truth of one customer now; undefined when the scenario has no such customer. */
  truth(customerId: string): CustomerTruth | undefined {
    const customer = this.store.customerRecord(customerId);
    return customer && this.truthOf(customer);
  }

  /** Ground truth in listing order, `limit` customers from `offset`. */
  truths(offset: number, limit: number): CustomerTruth[] {
    const out: CustomerTruth[] = [];
    for (let i = offset; i < Math.min(this.store.customerCount, offset + limit); i++) {
      out.push(this.truthOf(this.store.customerAt(i)!));
    }
    return out;
  }

  summary(): FleetSummary {
    const summary: FleetSummary = {
      customers: this.store.customerCount,
      advisors: 0,
      onAzurePlan: 0,
      withLegacySubscriptions: 0,
      agreementAttested: 0,
      eligible: 0,
      byReason: {},
    };
    for (let i = 0; i < this.store.customerCount; i++) {
      const truth = this.truthOf(this.store.customerAt(i)!);
      if (truth.relationship === 'advisor') summary.advisors++;
      if (truth.onAzurePlan) summary.onAzurePlan++;
      if (truth.legacySubscriptions.length > 0) summary.withLegacySubscriptions++;
      if (truth.agreementAttested) summary.agreementAttested++;
      if (truth.eligibility.isEligible) summary.eligible++;
      const reason = truth.eligibility.reason;
      if (reason) summary.byReason[reason] = (summary.byReason[reason] ?? 0) + 1;
    }
    return summary;
  }

  private truthOf(customer: CustomerRecord): CustomerTruth {
    const spec = customer.spec;
    const decision = this.store.decision(customer);
    const eligibility: CustomerTruth['eligibility'] = { isEligible: decision.kind === 'eligible' };
    const reason = decisionReason(decision);
    if (reason !== undefined) eligibility.reason = reason;
    const code = decisionCode(decision);
    if (code !== undefined) eligibility.reasonCode = code;
    if (decision.kind === 'upgradeExists') eligibility.upgradeId = decision.upgradeId;
    const visible = decision.kind !== 'noRelationship';
    const facts = visible ? this.store.facts(customer) : undefined;
    return {
      id: spec.id.toLowerCase(),
      name: companyName(spec),
      domain: domainOf(spec),
      relationship: relationshipOf(spec),
      onAzurePlan: (facts?.azurePlans.length ?? 0) > 0,
      azurePlans: (facts?.azurePlans ?? []).map(({ id, partnerId }) => (partnerId ? { id, partnerId } : { id })),
      legacySubscriptions: (facts?.legacy ?? []).map(({ id, entitlementId, status, partnerId }) =>
        partnerId ? { id, entitlementId, status, partnerId } : { id, entitlementId, status },
      ),
      agreementAttested: facts?.agreementAttested ?? false,
      eligibility,
      upgradeIds: [...customer.upgrades],
    };
  }
}

/** A usage-billed Azure subscription: a legacy one (with its entitlement) or an Azure plan. */
function azureView(
  offer: { id: string; name: string },
  fact: { id: string; entitlementId?: string; status: string; partnerId?: string; createdAt: number },
): Record<string, unknown> & { partnerId?: string } {
  const created = formatPartnerCenterDate(fact.createdAt);
  return {
    id: fact.id,
    ...(fact.entitlementId ? { entitlementId: fact.entitlementId } : {}),
    offerId: offer.id,
    offerName: offer.name,
    friendlyName: offer.name,
    quantity: 1,
    unitType: 'Usage-based',
    creationDate: created,
    effectiveStartDate: created,
    commitmentEndDate: '9999-12-14T00:00:00Z',
    status: fact.status,
    autoRenewEnabled: false,
    isTrial: false,
    billingType: 'usage',
    contractType: 'subscription',
    ...(fact.partnerId ? { partnerId: fact.partnerId } : {}),
    attributes: { objectType: 'Subscription' },
  };
}

function otherView(key: string, index: number, start: number): Record<string, unknown> & { partnerId?: string } {
  const offer = OTHER_OFFERS[stableInt(`${key}/other/${index}`, OTHER_OFFERS.length)];
  const created = start - (30 + stableInt(`${key}/other-age/${index}`, 1000)) * DAY_MS;
  return {
    id: derivedGuid(`${key}/other/${index}`),
    offerId: offer.id,
    offerName: offer.name,
    friendlyName: offer.name,
    quantity: 5 + stableInt(`${key}/seats/${index}`, 46),
    unitType: 'Licenses',
    creationDate: formatPartnerCenterDate(created),
    effectiveStartDate: formatPartnerCenterDate(created),
    commitmentEndDate: formatPartnerCenterDate(start + (1 + stableInt(`${key}/renew/${index}`, 360)) * DAY_MS),
    status: 'active',
    autoRenewEnabled: true,
    isTrial: false,
    billingType: 'license',
    contractType: 'subscription',
    attributes: { objectType: 'Subscription' },
  };
}
