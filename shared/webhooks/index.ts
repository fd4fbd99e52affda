export * from './signature';
export * from './responses';
export * from './callbacks';
export * from './reservations';
export * from './authenticate';
