import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

type Json = Record<string, unknown>;

const document = parse(readFileSync(path.join(__dirname, '../../docs/openapi.yaml'), 'utf8')) as Json;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
// The components are registered as one schema, so their own `#/components/...` refs resolve inside it.
ajv.addSchema({ $id: 'openapi', components: document.components });

function resolve(node: unknown): Json {
  let current = node as Json;
  while (current && typeof current.$ref === 'string') {
    const parts = current.$ref.replace(/^#\//, '').split('/');
    current = parts.reduce<Json>((at, key) => at[key] as Json, document);
  }
  return current;
}

/** A schema reference usable by Ajv: the document's `#/components/...` refs point into the "openapi" schema. */
function rebase(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"openapi#/components/')) as unknown;
}

export interface ObservedResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * Checks a real response against the OpenAPI document: the status must be documented for the operation, the
 * content type must be the documented one, and the body must match its schema. Returns the list of problems.
 */
export function openApiViolations(method: string, pathTemplate: string, response: ObservedResponse): string[] {
  const paths = document.paths as Record<string, Json>;
  const operation = paths[pathTemplate]?.[method.toLowerCase()] as Json | undefined;
  if (!operation) return [`${method} ${pathTemplate} is not in the OpenAPI document`];
  const responses = operation.responses as Record<string, unknown>;
  const documented = responses[String(response.status)];
  if (!documented) return [`status ${response.status} is not documented for ${method} ${pathTemplate}`];
  const spec = resolve(documented);
  const problems: string[] = [];
  const content = spec.content as Record<string, { schema: unknown }> | undefined;
  if (content) {
    const contentType = (response.headers['content-type'] ?? '').split(';')[0].trim();
    const media = content[contentType];
    if (!media) {
      problems.push(`content type "${contentType}" is not documented (expected ${Object.keys(content).join(', ')})`);
    } else {
      const validate = ajv.compile(rebase(media.schema) as object);
      if (!validate(response.body)) {
        problems.push(...(validate.errors ?? []).map((e) => `body${e.instancePath} ${e.message ?? 'is invalid'}`));
      }
    }
  }
  const headers = spec.headers as Record<string, unknown> | undefined;
  for (const name of Object.keys(headers ?? {})) {
    if (name.toLowerCase() === 'location' && response.status === 409) continue; // only when the upgrade exists
    if (response.headers[name.toLowerCase()] === undefined) problems.push(`header ${name} is missing`);
  }
  return problems;
}
