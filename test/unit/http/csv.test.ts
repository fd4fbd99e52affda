import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import {
  CSV_CONTENT_TYPE,
  csvAnswer,
  csvField,
  csvHeader,
  csvRecord,
  csvRows,
  csvPages,
  csvStream,
  wantsCsv,
  type CsvColumn,
} from '../../../shared/http/csv';

interface Row {
  name: string;
  count?: number;
  flag?: boolean;
}

const COLUMNS: CsvColumn<Row>[] = [
  { header: 'name', value: (row) => row.name },
  { header: 'count', value: (row) => row.count },
  { header: 'flag', value: (row) => row.flag },
];

/** What a standard CSV parser reads back (RFC 4180: CRLF, quotes). */
function parsed(text: string): Record<string, string>[] {
  return parse(text, { columns: true, relax_column_count: false, record_delimiter: '\r\n' });
}

/** The value a reader gets back from a guarded text cell: the `'` taken off a formula-looking one. */
function unguarded(cell: string): string {
  return /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell;
}

/** What the guard makes of a text value: a `'` before one that starts like a formula. */
function guarded(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

describe('CSV (shared/http/csv.ts)', () => {
  it('writes a header row and CRLF-ended records, quoting only what must be quoted', () => {
    const text = csvHeader(COLUMNS) + csvRows(COLUMNS, [{ name: 'Contoso', count: 3, flag: true }, { name: 'a,b' }]);
    expect(text).toBe('name,count,flag\r\nContoso,3,true\r\n"a,b",,\r\n');
    expect(CSV_CONTENT_TYPE.split(';')[0]).toBe('text/csv');
  });

  it.each([
    ['a "quoted" word', '"a ""quoted"" word"'],
    ['two\r\nlines', '"two\r\nlines"'],
    ['line\nfeed', '"line\nfeed"'],
    ['plain text', 'plain text'],
    ['', ''],
  ])('field %j is written %j', (value, written) => {
    expect(csvField(value)).toBe(written);
  });

  it.each(['=HYPERLINK("evil.example","x")', '+1+2', '-2+3', '@SUM(1,2)', '\tTAB', '\rCR'])(
    'a text cell starting a formula (%j) gets a quote before it',
    (value) => {
      const field = csvField(value);
      const [record] = parsed(`v\r\n${field}\r\n`);
      expect(record.v).toBe(`'${value}`);
      expect(unguarded(record.v)).toBe(value);
    },
  );

  it('leaves numbers, booleans and formula characters after the first alone', () => {
    expect(csvRecord([-5, 0, 1.5, false, 'a=b', 'x-1', undefined, null])).toBe('-5,0,1.5,false,a=b,x-1,,\r\n');
    expect(csvField(Number.NaN)).toBe('');
  });

  it('round-trips any text through a standard CSV parser, formula-looking text with its guard', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), fc.string({ unit: 'binary' })), { maxLength: 20 }), (pairs) => {
        const rows = pairs.map(([a, b]) => ({ a, b }));
        const columns: CsvColumn<{ a: string; b: string }>[] = [
          { header: 'a', value: (row) => row.a },
          { header: 'b', value: (row) => row.b },
        ];
        const back = parsed(csvHeader(columns) + csvRows(columns, rows));
        expect(back).toEqual(rows.map((row) => ({ a: guarded(row.a), b: guarded(row.b) })));
      }),
    );
  });

  describe('csvStream', () => {
    it('is the header then every page, equal to the rows written at once; empty pages are skipped', async () => {
      const pages: Row[][] = [[{ name: 'a', count: 1 }], [], [{ name: 'b' }, { name: '=c' }], []];
      async function* source() {
        yield* pages;
      }
      const text = await readAll(csvStream(COLUMNS, source()));
      expect(text).toBe(csvHeader(COLUMNS) + csvRows(COLUMNS, pages.flat()));
      expect(parsed(text).map((r) => unguarded(r.name))).toEqual(['a', 'b', '=c']);
    });

    it('asks for a page only when the reader has taken what came before (one page ahead at most)', async () => {
      let asked = 0;
      async function* source() {
        for (let page = 0; page < 5; page++) {
          asked++;
          yield [{ name: `p${page}` }];
        }
      }
      const reader = csvStream(COLUMNS, source()).getReader();
      let chunks = 0;
      for (;;) {
        const { done } = await reader.read();
        if (done) break;
        chunks++;
        // The header is chunk 1; page k is chunk k + 1.
        expect(asked).toBeLessThanOrEqual(chunks);
      }
      expect({ asked, chunks }).toEqual({ asked: 5, chunks: 6 });
    });

    it('a failing page errors the stream after what was sent: never a body that looks complete', async () => {
      async function* source() {
        yield [{ name: 'first' }];
        throw new Error('storage went away');
      }
      const reader = csvStream(COLUMNS, source()).getReader();
      const decoder = new TextDecoder();
      expect(decoder.decode((await reader.read()).value)).toBe('name,count,flag\r\n');
      expect(decoder.decode((await reader.read()).value)).toBe('first,,\r\n');
      await expect(reader.read()).rejects.toThrow('storage went away');
    });

    it('a reader that stops early closes the source', async () => {
      let closed = false;
      async function* source() {
        try {
          for (let page = 0; ; page++) yield [{ name: `p${page}` }];
        } finally {
          closed = true;
        }
      }
      const reader = csvStream(COLUMNS, source()).getReader();
      await reader.read();
      await reader.read();
      await reader.cancel();
      expect(closed).toBe(true);
    });
  });
});

describe('wantsCsv: Accept negotiation of an export', () => {
  it.each([
    ['text/csv', true],
    ['text/csv; charset=utf-8', true],
    ['TEXT/CSV', true],
    ['application/json, text/csv', true],
    ['text/csv;q=0.9, application/json;q=0.5', true],
    ['application/json, text/csv;q=0.5', false],
    ['text/csv;q=0', false],
    ['*/*', false],
    ['application/json', false],
    [null, false],
  ])('Accept %j → CSV %s', (accept, csv) => {
    expect(wantsCsv(accept)).toBe(csv);
  });
});

describe('csvPages: rows read one by one, exported in pages', () => {
  async function* rows(n: number): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i;
  }
  async function collect(n: number, size: number): Promise<number[][]> {
    const pages: number[][] = [];
    for await (const page of csvPages(rows(n), size)) pages.push(page);
    return pages;
  }

  it('cuts full pages and a last short one, in order, and nothing for no rows', async () => {
    expect(await collect(5, 2)).toEqual([[0, 1], [2, 3], [4]]);
    expect(await collect(4, 2)).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(await collect(0, 2)).toEqual([]);
  });
});

describe('csvAnswer: an export as an HTTP answer', () => {
  it("reads the first page before answering: a failure there is the caller's error answer, not a broken file", async () => {
    const failing: AsyncIterable<Row[]> = {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('storage is down')) }),
    };
    await expect(csvAnswer(COLUMNS, failing, 'x.csv')).rejects.toThrow('storage is down');
  });

  it('answers 200 with a CSV download never cached, its body every page in order', async () => {
    let asked = 0;
    async function* source(): AsyncGenerator<Row[]> {
      for (let page = 0; page < 3; page++) {
        asked++;
        yield [{ name: `p${page}`, count: page }];
      }
    }
    const answer = await csvAnswer(COLUMNS, source(), 'wave.csv');
    expect(asked).toBe(1);
    expect(answer.status).toBe(200);
    expect(answer.headers).toEqual({
      'content-type': CSV_CONTENT_TYPE,
      'content-disposition': 'attachment; filename="wave.csv"',
      'cache-control': 'no-store',
    });
    const text = await readAll(answer.body);
    expect(parsed(text).map((r) => r.name)).toEqual(['p0', 'p1', 'p2']);
  });

  it('is the header alone for no rows', async () => {
    const none: AsyncIterable<Row[]> = { [Symbol.asyncIterator]: () => [][Symbol.iterator]() as never };
    expect(await readAll((await csvAnswer(COLUMNS, none, 'x.csv')).body)).toBe(csvHeader(COLUMNS));
  });
});
