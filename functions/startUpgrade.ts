import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { correlationIdFrom } from '../shared/api/correlation';
import { startUpgradeWebhook } from '../shared/api/start-upgrade';
import { runWebhook } from '../shared/api/webhook';
import { getServices } from '../shared/services';

export async function startUpgrade(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const services = getServices();
  const instance = new URL(request.url).pathname;
  return runWebhook(
    services,
    request,
    {
      scope: 'upgrades',
      idempotency: true,
      correlationId: correlationIdFrom(context.traceContext?.traceParent),
      log: (level, message) => context[level](message),
    },
    (call) => startUpgradeWebhook(services, call, instance, (message) => context.warn(message)),
  );
}

app.http('startUpgrade', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'upgrades',
  handler: startUpgrade,
});
