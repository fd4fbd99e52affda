import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { readFleetSummary } from '../shared/api/fleet';
import { getServices } from '../shared/services';

export function getFleetSummary(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return readFleetSummary(getServices(), request, context);
}

app.http('getFleetSummary', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'fleet/summary',
  handler: getFleetSummary,
});
