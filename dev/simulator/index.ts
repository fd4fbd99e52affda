import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AdminApi } from './admin';
import { acceleratedClock, type SimulatorClock } from './clock';
import { Counters } from './counters';
import { FaultInjector } from './faults';
import { FleetApi, PagingSettings } from './fleet';
import { defaultScenario } from './generator';
import { RateLimiter } from './rate-limit';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_DURATIONS,
  DEFAULT_TENANT_ID,
  loadScenario,
  validateScenario,
  type FaultRoute,
  type FaultSpec,
  type PagingSpec,
  type RateLimitSpec,
  type Scenario,
} from './scenario';
import { readStateFile, StatePersistence } from './persistence';
import { createRequestHandler } from './server';
import { SimulatorState } from './state';
import { randomToken, TokenAuthority, type SimulatorCredentials, type TokenSettings } from './tokens';
import { UpgradeStore } from './upgrades';

export { acceleratedClock, steppedClock, formatPartnerCenterDate, isSteppedClock } from './clock';
export type { SimulatorClock, SteppedClock } from './clock';
export {
  defaultScenario,
  generateScenario,
  generateFleetScenario,
  UPGRADE_MIX,
  FLEET_MIX,
  DEFAULT_RESELLERS,
} from './generator';
export type { CustomerMix, GenerateOptions, OutcomeMix, ResellerMix } from './generator';
export { loadScenario, validateScenario, ScenarioError, DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID } from './scenario';
export type {
  BucketSpec,
  ContinuationPlacement,
  CustomerSpec,
  DurationSpec,
  ErrorDetailsSpec,
  ExistingUpgrade,
  FaultRoute,
  FaultSpec,
  IneligibilityReason,
  NextLinkForm,
  PagingSpec,
  PartnerSpec,
  RateLimitSpec,
  Relationship,
  Scenario,
  TokenSpec,
  UpgradeOutcome,
} from './scenario';
export { DEFAULT_PAGING, LEGACY_OFFER, AZURE_PLAN_OFFER } from './fleet';
export type { CustomerTruth, FleetSummary } from './fleet';
export { SimulatorState } from './state';
export type { CountersSnapshot } from './counters';
export type { SimulatorCredentials, TokenSettings } from './tokens';
export type { UpgradeTruth, UpgradeStatusView, LineItemView, UpgradeStatusValue } from './upgrades';
export { INELIGIBILITY } from './errors';

export interface SimulatorOptions {
  /** 0 (default): a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** A scenario object or a path to a scenario JSON file; default: defaultScenario(). */
  scenario?: Scenario | string;
  /** Default: acceleratedClock(scenario.speed ?? 1) starting at scenario.startTime or now. */
  clock?: SimulatorClock;
  /** Overrides the scenario's rate limits. */
  rateLimits?: RateLimitSpec;
  /** The secret and refresh token to accept; generated when absent (local values, never real secrets). */
  credentials?: { clientSecret?: string; refreshToken?: string };
  /**
   * Keep upgrades, idempotency keys and refresh tokens (hashed) in this JSON file across restarts. Loaded at start,
   * written shortly after each change and at close.
   */
  stateFile?: string;
  /** Default true: no output. false: one log line per request (no tokens or secrets in it). */
  quiet?: boolean;
  /** Where request log lines go when not quiet (default console.log). */
  log?: (line: string) => void;
}

export interface RunningSimulator {
  /** http://host:port — serves both the token endpoint and the Partner Center API. */
  url: string;
  port: number;
  clock: SimulatorClock;
  /** In-process access to the same data the admin API serves. */
  state: SimulatorState;
  credentials: SimulatorCredentials;
  scenario: Scenario;
  setFaults(route: FaultRoute, faults: FaultSpec | null): void;
  setRateLimits(spec: RateLimitSpec): void;
  /** Replaces the paging switches of the customer and usage-record lists. */
  setPaging(spec: PagingSpec): void;
  close(): Promise<void>;
}

function resolveScenario(input: Scenario | string | undefined): Scenario {
  if (input === undefined) return defaultScenario();
  if (typeof input === 'string') return loadScenario(input);
  return validateScenario(input);
}

/** Starts the simulator on loopback; resolves once it listens. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const scenario = resolveScenario(options.scenario);
  const saved = options.stateFile ? readStateFile(options.stateFile) : undefined;
  const start = scenario.startTime ? Date.parse(scenario.startTime) : Date.now();
  // A restarted simulator never runs its clock back behind upgrades it already made.
  const clock = options.clock ?? acceleratedClock(scenario.speed ?? 1, Math.max(start, saved?.simTime ?? 0));
  const credentials: SimulatorCredentials = {
    tenantId: scenario.partner?.tenantId ?? DEFAULT_TENANT_ID,
    clientId: scenario.partner?.clientId ?? DEFAULT_CLIENT_ID,
    clientSecret: options.credentials?.clientSecret ?? randomToken('simsecret.', 24),
    refreshToken: options.credentials?.refreshToken ?? randomToken('simrt.', 48),
    domain: scenario.partner?.domain,
  };
  const tokenSettings: TokenSettings = {
    accessTokenLifetimeSeconds: scenario.tokens?.accessTokenLifetimeSeconds ?? 3600,
    refreshTokenInactivitySeconds: scenario.tokens?.refreshTokenInactivitySeconds ?? 90 * 24 * 3600,
    deviceCodeAutoApproveSeconds:
      scenario.tokens?.deviceCodeAutoApproveSeconds === undefined ? 5 : scenario.tokens.deviceCodeAutoApproveSeconds,
    deviceCodeLifetimeSeconds: scenario.tokens?.deviceCodeLifetimeSeconds ?? 900,
    mfa: scenario.tokens?.mfa ?? true,
  };
  const counters = new Counters(() => clock.now());
  const store = new UpgradeStore(clock, { ...DEFAULT_DURATIONS, ...scenario.durations }, scenario.customers);
  const authority = new TokenAuthority(clock, tokenSettings, credentials, counters);
  const faults = new FaultInjector(scenario.seed ?? 1, scenario.faults);
  const limiter = new RateLimiter(options.rateLimits ?? scenario.rateLimits);
  const paging = new PagingSettings(scenario.paging);
  const fleet = new FleetApi(store, clock, paging);
  const state = new SimulatorState(clock, store, authority, counters, faults, limiter, paging, fleet);
  const persistence = options.stateFile ? new StatePersistence(options.stateFile, clock, store, authority) : undefined;
  persistence?.restore(saved);
  const instanceId = randomUUID();
  let url = '';
  const admin = new AdminApi(state, () => ({
    simulator: 'partner-center',
    instanceId,
    scenario: scenario.name ?? '(unnamed)',
    url,
    tenantId: credentials.tenantId,
    clientId: credentials.clientId,
    customers: state.customerCount,
    clock: { kind: clock.kind, speed: clock.speed, now: new Date(clock.now()).toISOString() },
  }));
  const log = options.quiet === false ? (options.log ?? ((line: string) => console.log(line))) : undefined;
  const server: Server = createServer(
    { keepAlive: true },
    createRequestHandler({ clock, store, authority, counters, faults, limiter, admin, fleet, log }),
  );
  // Tracked so close() does not wait for idle keep-alive connections of clients that never hang up.
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  authority.baseUrl = url;
  return {
    url,
    port,
    clock,
    state,
    credentials,
    scenario,
    setFaults: (route, spec) => state.setFaults(route, spec),
    setRateLimits: (spec) => state.setRateLimits(spec),
    setPaging: (spec) => state.setPaging(spec),
    close: () =>
      new Promise<void>((resolve, reject) => {
        persistence?.saveNow();
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/**
 * The app settings that point the app at a simulator: both URLs (one port serves the token endpoint and the API),
 * the partner app it accepts, and its generated local credentials — read by the environment secret store, so
 * KEY_VAULT_URL must stay unset with them.
 */
export function appSettingsFor(simulator: Pick<RunningSimulator, 'url' | 'credentials'>): Record<string, string> {
  return {
    PARTNER_CENTER_API_URL: simulator.url,
    PARTNER_CENTER_AUTHORITY_HOST: simulator.url,
    PARTNER_CENTER_TENANT_ID: simulator.credentials.tenantId,
    PARTNER_CENTER_CLIENT_ID: simulator.credentials.clientId,
    PARTNER_CENTER_CLIENT_SECRET: simulator.credentials.clientSecret,
    PARTNER_CENTER_REFRESH_TOKEN: simulator.credentials.refreshToken,
  };
}
