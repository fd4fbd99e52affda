import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { listUpgradesOfCustomer } from '../shared/api/read';
import { getServices } from '../shared/services';

export function listCustomerUpgrades(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return listUpgradesOfCustomer(getServices(), request, context);
}

app.http('listCustomerUpgrades', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'customers/{customerId}/upgrades',
  handler: listCustomerUpgrades,
});
