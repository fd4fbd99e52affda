import { exprOf } from './bicep';
import { APPLICATION_INSIGHTS_TABLES, kqlProblems } from './kql';
import { alerts, deployedQuery, workbookItems } from './monitoring.suite';

const workbookParameters = workbookItems.flatMap((item) => item.content.parameters ?? []);

function workbookValue(name: string, format: string | undefined): string {
  const parameter = workbookParameters.find((p) => p.name === name);
  // Type 4 is a time range: `{TimeRange:grain}` renders as a timespan that suits the range.
  if (parameter?.type === 4 && format === 'grain') return '1h';
  // Type 1 is text, rendered as it is.
  if (parameter?.type === 1 && format === undefined && typeof parameter.value === 'string') return parameter.value;
  throw new Error(`workbook: no rendering for {${name}${format ? `:${format}` : ''}}`);
}

/**
 * Every query the alert rules and the workbook run, as Azure runs it: Bicep interpolations filled in
 * (`deployedQuery`), workbook parameters (`{Name}`, `{Name:format}`) as the workbook renders them.
 */
const queries: [string, string][] = [
  ...alerts.map((a): [string, string] => [`alert ${exprOf(a.name)}`, deployedQuery(a.query)]),
  ...workbookItems
    .filter((item) => item.type === 3)
    .map((item): [string, string] => [
      `workbook ${item.name}`,
      (item.content.query ?? '').replace(/\{(\w+)(?::(\w+))?\}/g, (_m, name: string, format?: string) =>
        workbookValue(name, format),
      ),
    ]),
];

const COLUMNS = new Set(
  Object.values(APPLICATION_INSIGHTS_TABLES)
    .flat()
    .map((column) => column.split(':')[0]),
);

/** The query with its first use of a known column (outside string literals) renamed, and that column. */
function withColumnRenamed(query: string): { changed: string; column: string } {
  const strings = [...query.matchAll(/"[^"]*"/g)].map((m) => [m.index, m.index + m[0].length]);
  for (const match of query.matchAll(/\b[A-Za-z_]\w*\b/g)) {
    const inString = strings.some(([from, to]) => match.index >= from && match.index < to);
    if (inString || !COLUMNS.has(match[0]) || match.index === 0) continue;
    const changed = `${query.slice(0, match.index)}${match[0]}Renamed${query.slice(match.index + match[0].length)}`;
    return { changed, column: match[0] };
  }
  throw new Error(`no column in ${query}`);
}

describe('KQL of the alert rules and the workbook (Kusto language service, Application Insights schema)', () => {
  it('finds every alert query and every workbook query', () => {
    expect(queries.filter(([what]) => what.startsWith('alert'))).toHaveLength(alerts.length);
    expect(queries.filter(([what]) => what.startsWith('workbook')).length).toBeGreaterThan(5);
  });

  it.each(queries)('%s parses and passes semantic analysis', (_what, query) => {
    expect(kqlProblems(query)).toEqual([]);
  });

  it.each(queries)('%s is refused with a column renamed', (_what, query) => {
    const { changed, column } = withColumnRenamed(query);
    expect(kqlProblems(changed)).toContainEqual(
      expect.stringMatching(new RegExp(`^KS\\d+ at \\d+: The name '${column}Renamed' does not refer to any known`)),
    );
  });

  it.each(queries)('%s is refused with its table misspelled', (_what, query) => {
    const table = /^\w+/.exec(query)![0];
    expect(Object.keys(APPLICATION_INSIGHTS_TABLES)).toContain(table);
    expect(kqlProblems(`${table}s${query.slice(table.length)}`)).toContainEqual(
      expect.stringMatching(new RegExp(`The name '${table}s' does not refer to any known table`)),
    );
  });

  it('reports type errors too, not only names', () => {
    expect(kqlProblems('customEvents | where timestamp > 5 | summarize count() by bin(timestamp, "1h")')).not.toEqual(
      [],
    );
  });
});
