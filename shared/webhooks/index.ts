export * from './signature';
export * from './responses';
export * from './reservations';
export * from './authenticate';
