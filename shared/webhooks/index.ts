export * from './signing';
export * from './responses';
export * from './reservations';
export * from './authenticate';
