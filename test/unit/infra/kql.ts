/**
 * KQL checked with Microsoft's Kusto language service for JavaScript (`@kusto/language-service-next`, the parser and
 * semantic analyzer behind Kusto's editors): a query is parsed and analyzed against the Application Insights tables
 * as an Application Insights resource exposes them to its alert rules and workbooks, so a misspelled table, column or
 * function, or a type error, is reported here instead of in the portal.
 */

/** The few parts of the language service used here (it ships Bridge.NET declarations for all of it). */
interface KustoLanguage {
  Symbols: {
    TableSymbol: { $ctor7: new (name: string, schema: string, description: string | null) => unknown };
    DatabaseSymbol: { ctor: new (name: string, members: unknown[]) => unknown };
  };
  GlobalState: { Default: { WithDatabase(database: unknown): unknown } };
  KustoCode: {
    ParseAndAnalyze(
      text: string,
      globals: unknown,
    ): {
      GetDiagnostics(): { Count: number; getItem(index: number): KustoDiagnostic };
    };
  };
}

interface KustoDiagnostic {
  Code: string;
  Severity: string;
  Message: string;
  Start: number;
  Length: number;
}

function kustoLanguage(): KustoLanguage {
  /* eslint-disable @typescript-eslint/no-require-imports -- the service is a Bridge.NET script that defines globals */
  require('@kusto/language-service-next/bridge.js');
  require('@kusto/language-service-next');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return (globalThis as unknown as { Kusto: { Language: KustoLanguage } }).Kusto.Language;
}

/** Columns every Application Insights telemetry table has (the classic schema; name:type). */
const COMMON_COLUMNS = [
  'timestamp:datetime',
  'itemType:string',
  'itemId:string',
  'customDimensions:dynamic',
  'operation_Id:string',
  'operation_Name:string',
  'operation_ParentId:string',
  'operation_SyntheticSource:string',
  'session_Id:string',
  'user_Id:string',
  'user_AuthenticatedId:string',
  'user_AccountId:string',
  'application_Version:string',
  'client_Type:string',
  'client_Model:string',
  'client_OS:string',
  'client_IP:string',
  'client_City:string',
  'client_StateOrProvince:string',
  'client_CountryOrRegion:string',
  'client_Browser:string',
  'cloud_RoleName:string',
  'cloud_RoleInstance:string',
  'appId:string',
  'appName:string',
  'iKey:string',
  'sdkVersion:string',
];

/** Columns a request and a dependency both have: an operation with a result and a duration (milliseconds). */
const TIMED_OPERATION_COLUMNS = [
  'id:string',
  'name:string',
  'success:string',
  'resultCode:string',
  'duration:real',
  'performanceBucket:string',
  'customMeasurements:dynamic',
  'itemCount:int',
];

/**
 * The Application Insights tables and the columns each adds to the common ones, with their types, as Microsoft's table
 * reference for Application Insights lists them (for example `success` is a string, `duration` a real in milliseconds).
 */
export const APPLICATION_INSIGHTS_TABLES: Record<string, string[]> = {
  customEvents: ['name:string', 'customMeasurements:dynamic', 'itemCount:int'],
  customMetrics: [
    'name:string',
    'value:real',
    'valueCount:int',
    'valueSum:real',
    'valueMin:real',
    'valueMax:real',
    'valueStdDev:real',
  ],
  dependencies: ['target:string', 'type:string', 'data:string', ...TIMED_OPERATION_COLUMNS],
  requests: ['source:string', 'url:string', ...TIMED_OPERATION_COLUMNS],
  exceptions: [
    'problemId:string',
    'handledAt:string',
    'type:string',
    'message:string',
    'assembly:string',
    'method:string',
    'outerType:string',
    'outerMessage:string',
    'outerAssembly:string',
    'outerMethod:string',
    'innermostType:string',
    'innermostMessage:string',
    'innermostAssembly:string',
    'innermostMethod:string',
    'severityLevel:int',
    'details:dynamic',
    'customMeasurements:dynamic',
    'itemCount:int',
  ],
  traces: ['message:string', 'severityLevel:int', 'customMeasurements:dynamic', 'itemCount:int'],
};

let globals: unknown;

function applicationInsights(): { language: KustoLanguage; globals: unknown } {
  const language = kustoLanguage();
  globals ??= language.GlobalState.Default.WithDatabase(
    new language.Symbols.DatabaseSymbol.ctor(
      'applicationinsights',
      Object.entries(APPLICATION_INSIGHTS_TABLES).map(
        ([table, columns]) =>
          new language.Symbols.TableSymbol.$ctor7(table, `(${[...columns, ...COMMON_COLUMNS].join(', ')})`, null),
      ),
    ),
  );
  return { language, globals };
}

/** Every error and warning the language service reports for `query`, as "CODE at offset: message (text)". */
export function kqlProblems(query: string): string[] {
  const { language, globals } = applicationInsights();
  const diagnostics = language.KustoCode.ParseAndAnalyze(query, globals).GetDiagnostics();
  const problems: string[] = [];
  for (let i = 0; i < diagnostics.Count; i++) {
    const d = diagnostics.getItem(i);
    if (d.Severity !== 'Error' && d.Severity !== 'Warning') continue;
    const text = query.slice(d.Start, d.Start + d.Length);
    problems.push(`${d.Code} at ${d.Start}: ${d.Message} (${JSON.stringify(text)})`);
  }
  return problems;
}
