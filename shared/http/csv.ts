/**
 * CSV for every export of the app (RFC 4180): a header row, then one record per row, fields separated by commas,
 * records ended by CRLF; a field holding a comma, a double quote, CR or LF is enclosed in double quotes, its quotes
 * doubled. Text is UTF-8, without a byte order mark.
 *
 * Spreadsheet formula injection: a spreadsheet opening the file runs a cell that starts with `=`, `+`, `-` or `@`
 * as a formula (`=HYPERLINK(...)` in a company name Partner Center returned, say), and some read a leading tab or CR
 * the same way. Such a text cell is written with a `'` before it, which spreadsheets show as text and do not
 * evaluate; a reader that wants the original value takes the `'` off a cell whose next character is one of those.
 * Only text is guarded: numbers and booleans are written by the app itself and cannot carry a formula.
 *
 * A body is streamed page by page (`csvStream`): the next page is read only when the reader has taken the last one.
 * `csvAnswer` makes the HTTP answer of an export, `wantsCsv` reads whether a caller asked for one.
 */

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8; header=present';

/** Characters that make a spreadsheet read a cell as a formula when they come first. */
const FORMULA_START = /^[=+\-@\t\r]/;
/** Characters that make a field need quotes. */
const NEEDS_QUOTES = /[",\r\n]/;
const CRLF = '\r\n';

export type CsvValue = string | number | boolean | null | undefined;

/** One column of an export: its header and how a row gives its value (undefined or null: an empty field). */
export interface CsvColumn<T> {
  header: string;
  value: (row: T) => CsvValue;
}

/** One field as written: guarded against formulas (text only), then quoted when it must be. */
export function csvField(value: CsvValue): string {
  if (value === undefined || value === null) return '';
  let text: string;
  if (typeof value === 'string') text = FORMULA_START.test(value) ? `'${value}` : value;
  else if (typeof value === 'number') text = Number.isFinite(value) ? String(value) : '';
  else text = String(value);
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One record, with its CRLF. */
export function csvRecord(values: readonly CsvValue[]): string {
  return `${values.map(csvField).join(',')}${CRLF}`;
}

export function csvHeader<T>(columns: readonly CsvColumn<T>[]): string {
  return csvRecord(columns.map((column) => column.header));
}

export function csvRows<T>(columns: readonly CsvColumn<T>[], rows: readonly T[]): string {
  return rows.map((row) => csvRecord(columns.map((column) => column.value(row)))).join('');
}

/**
 * The header, then each page's records as the reader pulls them: a page is asked of `pages` only when the reader has
 * taken everything before it, so memory holds one page whatever the size of the export. A page that fails errors the
 * stream (the response is cut, never ended as if complete); a reader that stops early closes `pages`.
 */
export function csvStream<T>(
  columns: readonly CsvColumn<T>[],
  pages: AsyncIterable<readonly T[]>,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = pages[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(encoder.encode(csvHeader(columns)));
      },
      async pull(controller) {
        // A pull that enqueues nothing is not called again: an empty page is skipped here.
        for (;;) {
          const next = await iterator.next();
          if (next.done) {
            controller.close();
            return;
          }
          if (next.value.length > 0) {
            controller.enqueue(encoder.encode(csvRows(columns, next.value)));
            return;
          }
        }
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    // One chunk waits ahead of the reader: the page being read is the only other one in memory.
    { highWaterMark: 1 },
  );
}

/** True when the caller asks for CSV rather than JSON (`Accept: text/csv`, preferred over JSON if both are named). */
export function wantsCsv(accept: string | null): boolean {
  if (!accept) return false;
  const quality = (type: string): number => {
    for (const part of accept.split(',')) {
      const [media, ...params] = part.trim().split(';');
      if (media.trim().toLowerCase() !== type) continue;
      const q = params.map((p) => /^\s*q\s*=\s*([\d.]+)\s*$/i.exec(p)?.[1]).find((v) => v !== undefined);
      return q === undefined ? 1 : Number(q);
    }
    return 0;
  };
  const csv = quality('text/csv');
  return csv > 0 && csv >= quality('application/json');
}

/** An export as an HTTP answer: 200, CSV headers (a download named `filename`, never cached), the streamed body. */
export interface CsvAnswer {
  status: 200;
  headers: Record<string, string>;
  body: ReadableStream<Uint8Array>;
}

/**
 * The answer of an export: its first page is read before answering (storage down: the caller's error answer, a 503,
 * not a broken file), the rest as the reader takes it. A page that fails later cuts the response (the stream
 * errors): never a file that looks complete.
 */
export async function csvAnswer<T>(
  columns: readonly CsvColumn<T>[],
  pages: AsyncIterable<readonly T[]>,
  filename: string,
): Promise<CsvAnswer> {
  const iterator = pages[Symbol.asyncIterator]();
  const first = await iterator.next();
  async function* rest(): AsyncGenerator<readonly T[]> {
    if (first.done) return;
    yield first.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return {
    status: 200,
    headers: {
      'content-type': CSV_CONTENT_TYPE,
      'content-disposition': `attachment; filename="${filename}"`,
      'cache-control': 'no-store',
    },
    body: csvStream(columns, rest()),
  };
}

/** Rows in pages of `size` (the last may be shorter), for an export of rows read one by one. */
export async function* csvPages<T>(rows: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let page: T[] = [];
  for await (const row of rows) {
    page.push(row);
    if (page.length >= size) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}
