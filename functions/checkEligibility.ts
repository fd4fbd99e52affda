import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { correlationIdFrom } from '../shared/api/correlation';
import { eligibilityWebhook } from '../shared/api/eligibility';
import { runWebhook } from '../shared/api/webhook';
import { getServices } from '../shared/services';

export async function checkEligibility(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const services = getServices();
  return runWebhook(
    services,
    request,
    {
      scope: 'eligibility',
      idempotency: false,
      correlationId: correlationIdFrom(context.traceContext?.traceParent),
      log: (level, message) => context[level](message),
    },
    eligibilityWebhook(services),
  );
}

app.http('checkEligibility', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'eligibility',
  handler: checkEligibility,
});
