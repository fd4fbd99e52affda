/** A promise and the function that resolves it: tests wait on events, never on time. */
export interface Latch<T = void> {
  promise: Promise<T>;
  open(value: T): void;
}

export function latch<T = void>(): Latch<T> {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}
