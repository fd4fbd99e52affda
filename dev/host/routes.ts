/**
 * Function route templates as the Functions host reads them (ASP.NET Core route syntax): literal segments
 * (case-insensitive), `{name}`, optional `{name?}` (trailing only), constraints `{id:guid}`, `{n:int:min(1)}`, and a
 * catch-all `{*rest}`. Hand-written: there is no ASP.NET router on npm and only this subset is used.
 */

type Constraint = (value: string) => boolean;

interface LiteralSegment {
  kind: 'literal';
  text: string;
}
interface ParamSegment {
  kind: 'param';
  name: string;
  optional: boolean;
  catchAll: boolean;
  constraints: Constraint[];
}
type Segment = LiteralSegment | ParamSegment;

export interface CompiledRoute {
  template: string;
  segments: Segment[];
  /** Higher wins when two routes match: literals before constrained parameters before plain ones. */
  specificity: number[];
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const GUID_BODY = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const GUID = new RegExp(`^(${GUID_BODY}|\\{${GUID_BODY}\\})$`);

function constraint(spec: string, template: string): Constraint {
  const match = /^([a-zA-Z]+)(?:\((.*)\))?$/.exec(spec);
  if (!match) throw new Error(`Route "${template}": cannot read constraint "${spec}"`);
  const [, name, rawArgs] = match;
  const args = rawArgs === undefined ? [] : name === 'regex' ? [rawArgs] : rawArgs.split(',').map((a) => a.trim());
  const num = (i: number): number => Number(args[i]);
  switch (name.toLowerCase()) {
    case 'int':
    case 'long':
      return (v) => /^[+-]?\d+$/.test(v);
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'guid':
      return (v) => GUID.test(v) || /^[0-9a-fA-F]{32}$/.test(v);
    case 'alpha':
      return (v) => /^[a-zA-Z]+$/.test(v);
    case 'decimal':
    case 'double':
    case 'float':
      return (v) => NUMBER.test(v);
    case 'datetime':
      return (v) => !Number.isNaN(Date.parse(v));
    case 'min':
      return (v) => /^[+-]?\d+$/.test(v) && Number(v) >= num(0);
    case 'max':
      return (v) => /^[+-]?\d+$/.test(v) && Number(v) <= num(0);
    case 'range':
      return (v) => /^[+-]?\d+$/.test(v) && Number(v) >= num(0) && Number(v) <= num(1);
    case 'length':
      return args.length === 2 ? (v) => v.length >= num(0) && v.length <= num(1) : (v) => v.length === num(0);
    case 'minlength':
      return (v) => v.length >= num(0);
    case 'maxlength':
      return (v) => v.length <= num(0);
    case 'regex': {
      // Route templates escape braces inside a regex by doubling them.
      const regex = new RegExp(args[0].replace(/\{\{/g, '{').replace(/\}\}/g, '}'), 'i');
      return (v) => regex.test(v);
    }
    default:
      throw new Error(`Route "${template}": the local host does not know the constraint "${name}"`);
  }
}

export function compileRoute(template: string): CompiledRoute {
  const parts = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((p) => p !== '');
  const segments = parts.map((part, index): Segment => {
    const param = /^\{(\*{1,2})?([^:?}]+)((?::[^:?}]+(?:\([^)]*\))?)*)(\?)?\}$/.exec(part);
    if (!param) {
      if (part.includes('{')) throw new Error(`Route "${template}": unsupported segment "${part}"`);
      return { kind: 'literal', text: part.toLowerCase() };
    }
    const [, star, name, constraintText, optional] = param;
    const catchAll = star !== undefined;
    if ((optional || catchAll) && index !== parts.length - 1) {
      throw new Error(`Route "${template}": only the last segment may be optional or catch-all`);
    }
    const specs = constraintText ? (constraintText.slice(1).match(/[^:]+(?:\([^)]*\))?/g) ?? []) : [];
    return {
      kind: 'param',
      name,
      optional: optional !== undefined || catchAll,
      catchAll,
      constraints: specs.map((spec) => constraint(spec, template)),
    };
  });
  const specificity = segments.map((s) =>
    s.kind === 'literal' ? 4 : s.catchAll ? 1 : s.constraints.length > 0 ? 3 : 2,
  );
  return { template, segments, specificity };
}

/** Route parameters when `pathSegments` (decoded, after the route prefix) match; undefined otherwise. */
export function matchRoute(route: CompiledRoute, pathSegments: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const segment = route.segments[i];
    const value = pathSegments[i];
    if (segment.kind === 'literal') {
      if (value === undefined || value.toLowerCase() !== segment.text) return undefined;
      continue;
    }
    if (segment.catchAll) {
      const rest = pathSegments.slice(i).join('/');
      if (rest !== '') {
        if (!segment.constraints.every((c) => c(rest))) return undefined;
        params[segment.name] = rest;
      }
      return params;
    }
    if (value === undefined) return segment.optional ? params : undefined;
    if (!segment.constraints.every((c) => c(value))) return undefined;
    params[segment.name] = value;
  }
  return pathSegments.length === route.segments.length ? params : undefined;
}

/** Sorts most specific first, so `upgrades/summary` wins over `upgrades/{id}`. */
export function compareSpecificity(a: CompiledRoute, b: CompiledRoute): number {
  const length = Math.max(a.specificity.length, b.specificity.length);
  for (let i = 0; i < length; i++) {
    const diff = (b.specificity[i] ?? 0) - (a.specificity[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
