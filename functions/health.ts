import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { checkStorage } from '../shared/health';
import { problem } from '../shared/http/problem';
import { getServices } from '../shared/services';
import { appVersion } from '../shared/version';

export async function health(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const storage = await checkStorage(getServices().tables);
  const body = { status: storage.ok ? 'ok' : 'unavailable', version: appVersion(), checks: { tableStorage: storage } };
  if (storage.ok) return { status: 200, jsonBody: body, headers: { 'cache-control': 'no-store' } };
  context.warn(`health: Table Storage check failed: ${storage.error}`);
  return problem(503, 'dependency-unavailable', 'Table Storage is unavailable', {
    detail: storage.error,
    instance: new URL(request.url).pathname,
    retryAfterSeconds: 30,
    version: body.version,
    checks: body.checks,
  });
}

app.http('health', { methods: ['GET'], authLevel: 'anonymous', route: 'health', handler: health });
