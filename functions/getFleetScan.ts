import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { readFleetScan } from '../shared/api/fleet';
import { getServices } from '../shared/services';

export function getFleetScan(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return readFleetScan(getServices(), request, context);
}

app.http('getFleetScan', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'fleet/scans/{scanId}',
  handler: getFleetScan,
});
