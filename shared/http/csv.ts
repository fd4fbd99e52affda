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
