import { isSteppedClock } from './clock';
import type { SimResponse } from './errors';
import { FAULT_ROUTES, ScenarioError, type CustomerSpec, type FaultRoute } from './scenario';
import type { SimulatorState } from './state';

const ok = (body: unknown, status = 200): SimResponse => ({ status, body });

/** `offset` and `limit` (at most 10,000) of a listing; a bad value takes the default. */
function window(query: URLSearchParams): { offset: number; limit: number } {
  const int = (name: string, fallback: number): number => {
    const value = Number(query.get(name) ?? fallback);
    return Number.isInteger(value) && value >= 0 ? value : fallback;
  };
  return { offset: int('offset', 0), limit: Math.min(int('limit', 100), 10000) };
}
const fail = (status: number, error: string): SimResponse => ({ status, body: { error } });

/**
 * The admin API under `/_sim/...`: no auth (a local simulator), JSON in and out. Every route is a thin wrapper over
 * SimulatorState, which tests can also use in-process. Documented in dev/simulator/README.md.
 */
export class AdminApi {
  constructor(
    private readonly state: SimulatorState,
    private readonly info: () => Record<string, unknown>,
  ) {}

  handle(method: string, path: string, query: URLSearchParams, rawBody: string): SimResponse {
    let body: unknown = undefined;
    if (rawBody.trim() !== '') {
      try {
        body = JSON.parse(rawBody);
      } catch {
        return fail(400, 'the body must be JSON');
      }
    }
    try {
      return this.route(method, path, query, body);
    } catch (error) {
      if (error instanceof ScenarioError || error instanceof RangeError) return fail(400, error.message);
      throw error;
    }
  }

  private route(method: string, path: string, query: URLSearchParams, body: unknown): SimResponse {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const [first, second, third] = parts;
    const is = (m: string, n: number): boolean => method === m && parts.length === n;
    const state = this.state;

    if (is('GET', 0)) {
      return ok({ ...this.info(), upgrades: state.upgradeStatusCounts(), counters: state.counters() });
    }
    switch (first) {
      case 'clock': {
        const clock = state.clock;
        const now = (): unknown => ({
          kind: clock.kind,
          speed: clock.speed,
          now: new Date(clock.now()).toISOString(),
          nowMs: clock.now(),
        });
        if (is('GET', 1)) return ok(now());
        if (is('POST', 2) && second === 'advance') {
          if (!isSteppedClock(clock)) return fail(409, 'only a stepped clock can be advanced');
          const { ms, seconds } = (body ?? {}) as { ms?: unknown; seconds?: unknown };
          const step = typeof ms === 'number' ? ms : typeof seconds === 'number' ? seconds * 1000 : NaN;
          if (!Number.isFinite(step) || step < 0) return fail(400, 'give {"ms": n} or {"seconds": n}, n >= 0');
          clock.advance(step);
          return ok(now());
        }
        break;
      }
      case 'counters':
        if (is('GET', 1)) return ok(state.counters());
        if (is('POST', 2) && second === 'reset') {
          state.resetCounters();
          return ok(state.counters());
        }
        break;
      case 'upgrades':
        if (is('GET', 1)) {
          const upgrades = state.listUpgrades({
            customerId: query.get('customerId') ?? undefined,
            status: query.get('status') ?? undefined,
          });
          return ok({ count: upgrades.length, upgrades });
        }
        if (is('GET', 2)) {
          const upgrade = state.getUpgrade(second);
          return upgrade ? ok(upgrade) : fail(404, `no upgrade ${second}`);
        }
        break;
      case 'customers':
        if (is('GET', 1)) {
          const { offset, limit } = window(query);
          return ok({ total: state.customerCount, offset, customers: state.listCustomers(offset, limit) });
        }
        if (is('GET', 2)) {
          const customer = state.getCustomer(second);
          return customer ? ok(customer) : fail(404, `no customer ${second}`);
        }
        if (is('POST', 1)) {
          const specs = (Array.isArray(body) ? body : [body]) as CustomerSpec[];
          for (const spec of specs) state.addCustomer(spec);
          return ok({ added: specs.length, total: state.customerCount }, 201);
        }
        break;
      case 'faults':
        if (is('GET', 1)) return ok(state.faults());
        if (is('DELETE', 1)) {
          state.clearFaults();
          return ok(state.faults());
        }
        if ((is('PUT', 2) || is('DELETE', 2)) && FAULT_ROUTES.includes(second as FaultRoute)) {
          state.setFaults(second as FaultRoute, method === 'DELETE' ? null : (body ?? {}));
          return ok(state.faults());
        }
        if (parts.length === 2) return fail(400, `fault routes: ${FAULT_ROUTES.join(', ')}`);
        break;
      case 'fleet':
        if (is('GET', 1)) return ok(state.fleetSummary());
        if (is('GET', 2) && second === 'customers') {
          const { offset, limit } = window(query);
          return ok({ total: state.customerCount, offset, customers: state.customerTruths(offset, limit) });
        }
        if (is('GET', 3) && second === 'customers') {
          const truth = state.customerTruth(third);
          return truth ? ok(truth) : fail(404, `no customer ${third}`);
        }
        break;
      case 'paging':
        if (is('GET', 1)) return ok(state.paging());
        if (is('PUT', 1)) {
          state.setPaging(body ?? {});
          return ok(state.paging());
        }
        break;
      case 'rate-limits':
        if (is('GET', 1)) return ok(state.rateLimits());
        if (is('PUT', 1)) {
          state.setRateLimits(body ?? {});
          return ok(state.rateLimits());
        }
        break;
      case 'tokens':
        if (is('GET', 1)) return ok({ settings: state.tokenSettings(), ...state.tokenStats() });
        if (is('PUT', 2) && second === 'settings') return ok(state.setTokenSettings(body ?? {}));
        if (is('POST', 2) && second === 'expire-access') return ok({ expired: state.expireAccessTokens() });
        if (is('POST', 2) && second === 'expire-refresh') return ok({ expired: state.expireRefreshTokens() });
        break;
      case 'devicecode':
        if (is('POST', 3) && third === 'approve') {
          return state.approveDeviceCode(second) ? ok({ approved: second }) : fail(404, `no device code ${second}`);
        }
        break;
      default:
        break;
    }
    return fail(404, `no admin route ${method} /_sim${path}`);
  }
}
