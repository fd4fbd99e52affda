import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { listFleetCustomers } from '../shared/api/fleet';
import { getServices } from '../shared/services';

/**
 * The fleet's customers: a page of JSON, or with `Accept: text/csv` the whole listing, its body a stream the handler
 * fills page by page as it is read. The app keeps `enableHttpStream: false` (functions/index.ts), so in Azure the
 * worker reads that stream to its end before handing the answer to the host (about 300 bytes per customer); the
 * local host sends it as it is read.
 */
export function fleetListCustomers(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return listFleetCustomers(getServices(), request, context);
}

app.http('fleetListCustomers', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'fleet/customers',
  handler: fleetListCustomers,
});
