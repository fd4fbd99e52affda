export * from './signature';
export * from './responses';
export * from './event-dedupe';
export * from './idempotency';
export * from './callbacks';
export { reservationRowKey, type ReservationHandle } from './reservations';
export * from './authenticate';
