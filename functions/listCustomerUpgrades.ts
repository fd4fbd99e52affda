import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { listUpgradesOfCustomer } from '../shared/api/read';
import { getServices } from '../shared/services';

export async function listCustomerUpgrades(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const services = getServices();
  return listUpgradesOfCustomer(services, request.params.customerId, request.query, {
    instance: new URL(request.url).pathname,
    telemetry: services.telemetry,
    log: (level, message) => context[level](message),
  });
}

app.http('listCustomerUpgrades', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'customers/{customerId}/upgrades',
  handler: listCustomerUpgrades,
});
