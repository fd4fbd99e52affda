import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { checkStorage, healthReport } from '../shared/health';
import { problem } from '../shared/http/problem';
import { getServices } from '../shared/services';
import { appVersion } from '../shared/version';

/**
 * Anonymous: the version and a real Table Storage round trip that creates nothing. The answer names each check's
 * status only; why a check failed goes to the log (an anonymous caller learns no error code, host or table name).
 */
export async function health(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const storage = await checkStorage(getServices().tables);
  const report = healthReport(appVersion(), { tableStorage: storage.status });
  if (report.status === 'ok') return { status: 200, jsonBody: report, headers: { 'cache-control': 'no-store' } };
  context.warn(`health: Table Storage check failed after ${storage.latencyMs} ms: ${storage.problem}`);
  return problem(503, 'dependency-unavailable', 'Table Storage is unavailable', {
    detail: 'The app cannot read its state; retry later.',
    instance: new URL(request.url).pathname,
    retryAfterSeconds: 30,
    version: report.version,
    checks: report.checks,
  });
}

app.http('health', { methods: ['GET'], authLevel: 'anonymous', route: 'health', handler: health });
