import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { checkStorage, healthReport } from '../shared/health';
import { problem } from '../shared/http/problem';
import { getServices } from '../shared/services';
import { appVersion } from '../shared/version';
import { webhookSigning } from '../shared/webhooks/authenticate';

/**
 * Anonymous: the version, a real Table Storage round trip that creates nothing, and which webhook signature mode is
 * on (the same question the webhooks ask, answered from the cached secret). The answer names each check's status
 * only; why a check failed goes to the log (an anonymous caller learns no error code, host, table or secret name).
 */
export async function health(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const services = getServices();
  const [storage, signing] = await Promise.all([
    checkStorage(services.tables),
    webhookSigning(services.secrets, services.config.webhookSignatures),
  ]);
  const report = healthReport(appVersion(), { tableStorage: storage.status, webhookSignatures: signing.mode });
  if (report.status === 'ok') return { status: 200, jsonBody: report, headers: { 'cache-control': 'no-store' } };
  if (storage.status !== 'ok') {
    context.warn(`health: Table Storage check failed after ${storage.latencyMs} ms: ${storage.problem}`);
  }
  if (signing.mode === 'unavailable') context.warn(`health: webhook signatures cannot be checked: ${signing.problem}`);
  const [title, detail] =
    storage.status !== 'ok'
      ? ['Table Storage is unavailable', 'The app cannot read its state; retry later.']
      : ['Webhook signatures cannot be checked', 'The app refuses every POST webhook until an operator acts.'];
  return problem(503, 'dependency-unavailable', title, {
    detail,
    instance: new URL(request.url).pathname,
    retryAfterSeconds: 30,
    version: report.version,
    checks: report.checks,
  });
}

app.http('health', { methods: ['GET'], authLevel: 'anonymous', route: 'health', handler: health });
