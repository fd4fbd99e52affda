/**
 * Merges async streams that are each sorted by `compare` into one sorted stream (a k-way merge): each stream is read
 * lazily, one item ahead, so a consumer that stops early has read no more than it needed. The streams are started
 * together, and all of them are closed when the merged stream ends or is closed.
 */
export async function* mergeSorted<T>(
  streams: readonly AsyncIterator<T>[],
  compare: (a: T, b: T) => number,
): AsyncGenerator<T> {
  try {
    const heads: IteratorResult<T>[] = await Promise.all(streams.map((stream) => stream.next()));
    for (;;) {
      let first = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (head.done) continue;
        const best = heads[first];
        if (first < 0 || best.done || compare(head.value, best.value) < 0) first = i;
      }
      if (first < 0) return;
      const head = heads[first];
      if (head.done) return;
      yield head.value;
      heads[first] = await streams[first].next();
    }
  } finally {
    await Promise.all(streams.map(async (stream) => stream.return?.(undefined)));
  }
}
