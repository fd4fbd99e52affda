import fc from 'fast-check';
import {
  isAzurePlanSubscription,
  isCustomerAgreement,
  isLegacyAzureSubscription,
  readAgreement,
  readCollection,
  readCustomer,
  readSubscription,
  readUsageRecord,
} from '../../../shared/partner-center/fleet-wire';
import { UnreadableBodyError } from '../../../shared/partner-center/wire';

const CUSTOMER = '9f3e5e5a-2d1b-4c7a-8e6f-1a2b3c4d5e6f';
const TOKEN = 'AQAAAA8xNDQz';

describe('collection pages', () => {
  it('reads the documented page: items, totalCount, links.next with headers as a list of {key, value}', () => {
    const page = readCollection(
      JSON.stringify({
        totalCount: 1,
        items: [
          {
            id: CUSTOMER.toUpperCase(),
            companyProfile: { tenantId: CUSTOMER, domain: 'a.onmicrosoft.com', companyName: 'A' },
            relationshipToPartner: 'reseller',
            attributes: { objectType: 'Customer' },
          },
        ],
        links: {
          self: { uri: '/customers?size=500', method: 'GET', headers: [] },
          next: {
            uri: '/v1/customers?size=500&seekOperation=Next',
            method: 'GET',
            headers: [{ key: 'MS-ContinuationToken', value: TOKEN }],
          },
        },
        attributes: { objectType: 'Collection' },
      }),
      'listCustomers',
      readCustomer,
    );
    expect(page).toEqual({
      items: [
        {
          id: CUSTOMER,
          tenantId: CUSTOMER,
          domain: 'a.onmicrosoft.com',
          companyName: 'A',
          relationshipToPartner: 'reseller',
        },
      ],
      unreadable: 0,
      totalCount: 1,
      nextLink: { uri: '/v1/customers?size=500&seekOperation=Next', headers: { 'MS-ContinuationToken': TOKEN } },
    });
  });

  it('tolerates PascalCase, headers as an object, a top-level continuationToken, no links at all', () => {
    const page = readCollection(
      JSON.stringify({
        Items: [{ Id: CUSTOMER }],
        Links: { Next: { Uri: 'customers?seekOperation=Next', Headers: { 'MS-ContinuationToken': TOKEN } } },
        ContinuationToken: TOKEN,
      }),
      'listCustomers',
      readCustomer,
    );
    expect(page).toMatchObject({
      items: [{ id: CUSTOMER }],
      nextLink: { uri: 'customers?seekOperation=Next', headers: { 'MS-ContinuationToken': TOKEN } },
      continuationToken: TOKEN,
    });
    expect(readCollection('{"items":[]}', 'x', readCustomer)).toEqual({ items: [], unreadable: 0 });
    expect(readCollection('{"items":[],"links":{"next":null}}', 'x', readCustomer).nextLink).toBeUndefined();
  });

  it('counts the items it cannot read instead of inventing or silently losing them', () => {
    const page = readCollection(
      JSON.stringify({
        items: [{ id: CUSTOMER }, { id: 'not-a-guid' }, 'text', null, { companyProfile: { tenantId: CUSTOMER } }],
      }),
      'listCustomers',
      readCustomer,
    );
    expect(page.items.map((c) => c.id)).toEqual([CUSTOMER, CUSTOMER]);
    expect(page.unreadable).toBe(3);
  });

  it.each([
    ['not JSON', '<html>proxy error</html>'],
    ['cut in half', '{"totalCount":2,"items":[{"id":"9f3e'],
    ['no items list', '{"totalCount":0}'],
    ['items not a list', '{"items":{}}'],
    ['a next link without uri', '{"items":[],"links":{"next":{"headers":[]}}}'],
    [
      'next headers of another shape',
      '{"items":[],"links":{"next":{"uri":"/v1/customers","headers":"MS-ContinuationToken: x"}}}',
    ],
    [
      'a header entry without a value',
      '{"items":[],"links":{"next":{"uri":"/v1/customers","headers":[{"key":"MS-ContinuationToken"}]}}}',
    ],
  ])('a page that is %s is unreadable (a transient failure, never an empty last page)', (_what, text) => {
    expect(() => readCollection(text, 'listCustomers', readCustomer)).toThrow(UnreadableBodyError);
  });

  it('property: any body either reads or throws UnreadableBodyError, and never invents an item', () => {
    const item = fc.oneof(
      fc.jsonValue(),
      fc.record({ id: fc.oneof(fc.uuid(), fc.string()), relationshipToPartner: fc.string() }),
    );
    const page = fc.record(
      { items: fc.array(item, { maxLength: 8 }), links: fc.jsonValue(), continuationToken: fc.jsonValue() },
      { requiredKeys: ['items'] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), page), (value) => {
        let read: ReturnType<typeof readCollection<{ id: string }>>;
        try {
          read = readCollection(JSON.stringify(value), 'listCustomers', readCustomer);
        } catch (error) {
          expect(error).toBeInstanceOf(UnreadableBodyError);
          return;
        }
        const items = (value as { items: unknown[] }).items;
        expect(read.items.length + read.unreadable).toBe(items.length);
        const ids = new Set(
          items.map((raw) => {
            const id = (raw as { id?: unknown } | null)?.id;
            return typeof id === 'string' ? id.toLowerCase() : '';
          }),
        );
        for (const customer of read.items) expect(ids.has(customer.id)).toBe(true);
      }),
    );
  });
});

describe('subscriptions', () => {
  const legacy = {
    id: 'A1B2C3D4-0000-4000-8000-000000000001',
    entitlementId: 'e1',
    offerId: 'MS-AZR-0145P',
    friendlyName: 'Microsoft Azure',
    quantity: 1,
    status: 'Suspended',
    billingType: 'usage',
    partnerId: '1234567',
    creationDate: '2020-01-01T00:00:00Z',
    unknown: { nested: true },
  };

  it('keeps offer, status (normalized and raw), reseller of record, entitlement id', () => {
    expect(readSubscription(legacy)).toEqual({
      id: 'a1b2c3d4-0000-4000-8000-000000000001',
      entitlementId: 'e1',
      offerId: 'MS-AZR-0145P',
      friendlyName: 'Microsoft Azure',
      quantity: 1,
      status: 'suspended',
      rawStatus: 'Suspended',
      billingType: 'usage',
      partnerId: '1234567',
      creationDate: '2020-01-01T00:00:00Z',
    });
    expect(readSubscription({ id: 'x', status: 'Frozen' })).toMatchObject({
      status: 'unknown',
      rawStatus: 'Frozen',
      offerId: '',
    });
    expect(readSubscription({ offerId: 'MS-AZR-0145P' })).toBeUndefined();
  });

  it('the offer filter is in code: legacy Azure by MS-AZR-0145P in any case, Azure plans by DZH318Z0BPS6', () => {
    expect(isLegacyAzureSubscription({ offerId: 'ms-azr-0145p ' })).toBe(true);
    expect(isLegacyAzureSubscription({ offerId: 'MS-AZR-0145PX' })).toBe(false);
    expect(isLegacyAzureSubscription({ offerId: 'MS-AZR-0017P' })).toBe(false);
    expect(isAzurePlanSubscription({ offerId: 'DZH318Z0BPS6:0001:DZH318Z0BML6' })).toBe(true);
    expect(isAzurePlanSubscription({ offerId: 'dzh318z0bps6' })).toBe(true);
    expect(isAzurePlanSubscription({ offerId: 'DZH318Z0BPS7' })).toBe(false);
  });
});

describe('usage records and agreements', () => {
  it('a usage record: the customer id from id or resourceId, isUpgraded, amounts as numbers or strings', () => {
    expect(
      readUsageRecord({
        resourceId: CUSTOMER,
        name: 'Contoso',
        isUpgraded: 'true',
        budget: { amount: '1000.5' },
        totalCost: 12.5,
        currencyLocale: 'en-US',
      }),
    ).toEqual({
      customerId: CUSTOMER,
      companyName: 'Contoso',
      isUpgraded: true,
      budgetAmount: 1000.5,
      totalCost: 12.5,
      currencyLocale: 'en-US',
    });
    expect(readUsageRecord({ id: CUSTOMER, budget: {} })).toEqual({ customerId: CUSTOMER });
    expect(readUsageRecord({ id: 'nope' })).toBeUndefined();
  });

  it('an agreement needs a type; only MicrosoftCustomerAgreement counts as the customer agreement', () => {
    const mca = readAgreement({
      primaryContact: { firstName: 'A', lastName: 'B', email: 'a@b.example', extra: 1 },
      templateId: 't',
      dateAgreed: '2025-01-01T00:00:00Z',
      type: 'MicrosoftCustomerAgreement',
      agreementLink: 'https://aka.ms/customeraccept',
    });
    expect(mca).toEqual({
      type: 'MicrosoftCustomerAgreement',
      templateId: 't',
      dateAgreed: '2025-01-01T00:00:00Z',
      agreementLink: 'https://aka.ms/customeraccept',
      primaryContact: { firstName: 'A', lastName: 'B', email: 'a@b.example' },
    });
    expect(isCustomerAgreement(mca!)).toBe(true);
    expect(isCustomerAgreement(readAgreement({ type: 'MicrosoftCloudAgreement' })!)).toBe(false);
    expect(readAgreement({ templateId: 't' })).toBeUndefined();
  });
});
