import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { readUpgrade } from '../shared/api/read';
import { getServices } from '../shared/services';

export async function getUpgrade(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const services = getServices();
  return readUpgrade(services, request.params.upgradeId, {
    instance: new URL(request.url).pathname,
    telemetry: services.telemetry,
    log: (level, message) => context[level](message),
  });
}

app.http('getUpgrade', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'upgrades/{upgradeId}',
  handler: getUpgrade,
});
