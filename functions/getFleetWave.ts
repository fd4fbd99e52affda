import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { readWaveRequest } from '../shared/api/waves';
import { getServices } from '../shared/services';

/** A fleet wave: its state, its progress by status and its members. */
export function getFleetWave(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return readWaveRequest(getServices(), request, context);
}

app.http('getFleetWave', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'fleet/waves/{waveId}',
  handler: getFleetWave,
});
