import type { CustomerDirectory, ProductUpgrades } from '../../shared/partner-center';
import type { Tables } from '../../shared/storage/tables';
import type { CountingPartnerCenter } from '../integration/fleet/helpers';
import { wrapWrites } from './faults';

/**
 * A process of the app for crash-point tests: it dies right after its k-th side effect (a table write, a queue send,
 * a Partner Center create) or at a chosen Partner Center answer, and nothing it started lands after that.
 */

class ProcessDied extends Error {
  constructor(what: string) {
    super(`the process died (${what})`);
    this.name = 'ProcessDied';
  }
}

/** One process of the app: it dies at the k-th side effect (or on demand), and is dead from then on. */
export class Process {
  effects = 0;
  /** Partner Center answers the process received. */
  answers = 0;
  readonly log: string[] = [];
  dead = false;
  constructor(private readonly dieAfterEffect?: number) {}

  async effect<T>(name: string, action: () => Promise<T>): Promise<T> {
    if (this.dead) throw new ProcessDied(`before ${name}`);
    const result = await action();
    this.effects++;
    this.log.push(name);
    if (this.effects === this.dieAfterEffect) this.die(`after ${name}`);
    return result;
  }

  die(what: string): never {
    this.dead = true;
    throw new ProcessDied(what);
  }

  alive(what: string): void {
    if (this.dead) throw new ProcessDied(`before ${what}`);
  }
}

/** The app's tables as the process sees them: every write is a side effect. */
export function processTables(inner: Tables, process: Process): Tables {
  return wrapWrites(inner, (key, method, write) => process.effect(`${key}.${method}`, write));
}

/**
 * Partner Center as the process sees it: nothing is sent once it is dead, and (for random kills) it dies when the
 * n-th answer arrives, with the answer lost. A create is a side effect of its own (an upgrade exists at Partner Center
 * once it is answered): the process may die right after it, the answer lost.
 */
export function processPartnerCenter(
  inner: CountingPartnerCenter,
  process: Process,
  dieAtAnswer?: number,
): ProductUpgrades & CustomerDirectory {
  const answered = <T>(value: T): T => {
    process.alive('an answer');
    if (++process.answers === dieAtAnswer) process.die(`at Partner Center answer #${process.answers}`);
    return value;
  };
  const send = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    process.alive(what);
    return answered(await call());
  };
  const pages = <T>(what: string, open: () => AsyncIterableIterator<T>): AsyncIterableIterator<T> => {
    process.alive(what);
    const iterator = open();
    return {
      next: async () => answered(await iterator.next()),
      return: async (value?: unknown) => (iterator.return ? iterator.return(value) : { done: true, value: undefined }),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  };
  return {
    checkEligibility: (request, options) => send('eligibility', () => inner.checkEligibility(request, options)),
    createUpgrade: (request, options) =>
      process.effect('Partner Center create', () => send('create', () => inner.createUpgrade(request, options))),
    getUpgradeStatus: (request, options) => send('status', () => inner.getUpgradeStatus(request, options)),
    listCustomers: (options) => pages('customers', () => inner.listCustomers(options)),
    listUsageRecords: (options) => pages('usage records', () => inner.listUsageRecords(options)),
    getCustomerSubscriptions: (id, options) => send('subscriptions', () => inner.getCustomerSubscriptions(id, options)),
    getCustomerAgreements: (id, options) => send('agreements', () => inner.getCustomerAgreements(id, options)),
  };
}
