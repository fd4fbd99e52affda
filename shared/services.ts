import { loadConfig, type AppConfig } from './config';
import { Tables } from './storage/tables';

/**
 * The composition root: every long-lived object the functions use, built once per process from the validated
 * config. Functions call `getServices()`; tests call `resetServices()` after changing the environment.
 */
export interface Services {
  config: AppConfig;
  tables: Tables;
}

let current: Services | undefined;

export function createServices(config: AppConfig = loadConfig()): Services {
  return { config, tables: new Tables(config) };
}

export function getServices(): Services {
  current ??= createServices();
  return current;
}

export function resetServices(services?: Services): void {
  current = services;
}
