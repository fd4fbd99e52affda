import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { readFleetSummary } from '../shared/api/fleet';
import { getServices } from '../shared/services';

export function fleetSummary(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return readFleetSummary(getServices(), request, context);
}

app.http('fleetSummary', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'fleet/summary',
  handler: fleetSummary,
});
