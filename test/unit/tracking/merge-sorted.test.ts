import fc from 'fast-check';
import { mergeSorted } from '../../../shared/tracking/merge-sorted';

/** A stream over `items` that records how far it was read and whether it was closed. */
function stream(items: number[]) {
  const seen = { read: 0, closed: false };
  async function* generate(): AsyncGenerator<number> {
    try {
      for (const item of items) {
        seen.read++;
        yield await Promise.resolve(item);
      }
    } finally {
      seen.closed = true;
    }
  }
  return { iterator: generate(), seen };
}

const byNumber = (a: number, b: number) => a - b;

async function collect(merged: AsyncGenerator<number>, limit = Infinity): Promise<number[]> {
  const out: number[] = [];
  for await (const item of merged) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

describe('mergeSorted', () => {
  it('merges sorted streams into one sorted stream holding every item (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.integer({ min: 0, max: 50 })), { maxLength: 6 }), async (lists) => {
        const sorted = lists.map((list) => [...list].sort(byNumber));
        const merged = await collect(
          mergeSorted(
            sorted.map((list) => stream(list).iterator),
            byNumber,
          ),
        );
        expect(merged).toEqual(sorted.flat().sort(byNumber));
      }),
    );
  });

  it('reads each stream one item ahead only, and closes every stream when the consumer stops', async () => {
    const streams = [stream([1, 4, 7, 10]), stream([2, 5, 8]), stream([3, 6, 9])];
    const merged = await collect(
      mergeSorted(
        streams.map((s) => s.iterator),
        byNumber,
      ),
      4,
    );
    expect(merged).toEqual([1, 2, 3, 4]);
    // 1 and 4 from the first, 2 and 3 from the others, each of which has read one more (5, 6) and no further
    expect(streams.map((s) => s.seen.read)).toEqual([2, 2, 2]);
    expect(streams.every((s) => s.seen.closed)).toBe(true);
  });

  it('ends at once for no streams or empty ones', async () => {
    expect(await collect(mergeSorted([], byNumber))).toEqual([]);
    expect(await collect(mergeSorted([stream([]).iterator, stream([]).iterator], byNumber))).toEqual([]);
  });
});
