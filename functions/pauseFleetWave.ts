import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { commandWaveRequest } from '../shared/api/waves';
import { getServices } from '../shared/services';

/** No customer of the wave is started until it resumes. */
export function pauseFleetWave(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return commandWaveRequest(getServices(), request, 'pause', context);
}

app.http('pauseFleetWave', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'fleet/waves/{waveId}/pause',
  handler: pauseFleetWave,
});
