/**
 * Reads the Bicep templates with tree-sitter-bicep (no Bicep compiler runs on our machines: syntax only) and turns
 * declarations into plain values the infra tests can assert on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type Parser from 'tree-sitter';
import type { SyntaxNode, Tree } from 'tree-sitter';

export const REPO_ROOT = join(__dirname, '..', '..', '..');
export const INFRA_DIR = join(REPO_ROOT, 'infra');

/** A Bicep expression the tests do not evaluate (a reference, a function call, an interpolated string). */
export interface Expression {
  expr: string;
}
export type BicepValue = string | number | boolean | null | Expression | BicepValue[] | { [key: string]: BicepValue };

export interface BicepFile {
  path: string;
  source: string;
  tree: Tree;
}

/**
 * tree-sitter's JavaScript wrapper patches the prototypes of its native addon, which Node loads once per process:
 * a second copy of the wrapper (Jest loads modules afresh for every test file) produces trees without nodes. So
 * every infra suite runs from the one test file infra.test.ts, and the parser is created once, on first use.
 */
let parser: Parser | undefined;
function bicepParser(): Parser {
  if (!parser) {
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, once per process (see above) */
    const TreeSitter = require('tree-sitter') as typeof Parser;
    const Bicep = require('tree-sitter-bicep') as unknown as Parser.Language;
    /* eslint-enable @typescript-eslint/no-require-imports */
    parser = new TreeSitter();
    parser.setLanguage(Bicep);
  }
  return parser;
}

export function parseBicep(source: string, path = '<inline>'): BicepFile {
  return { path, source, tree: bicepParser().parse(source) };
}

export function readBicep(relativePath: string): BicepFile {
  const path = join(REPO_ROOT, relativePath);
  return parseBicep(readFileSync(path, 'utf8'), relativePath);
}

/** Every .bicep file under infra/, as repository-relative paths. */
export function bicepFiles(dir = INFRA_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) return bicepFiles(full);
      return entry.name.endsWith('.bicep') ? [relative(REPO_ROOT, full)] : [];
    })
    .sort();
}

/** Syntax errors as "path:line:column: text", empty when the file parses cleanly. */
export function syntaxErrors(file: BicepFile): string[] {
  const errors: string[] = [];
  const visit = (node: SyntaxNode): void => {
    if (node.type === 'ERROR' || node.isMissing) {
      const { row, column } = node.startPosition;
      const kind = node.isMissing ? `missing ${node.type}` : 'unexpected';
      errors.push(`${file.path}:${row + 1}:${column + 1}: ${kind} ${JSON.stringify(node.text.slice(0, 80))}`);
      return;
    }
    node.children.forEach(visit);
  };
  visit(file.tree.rootNode);
  if (errors.length === 0 && file.tree.rootNode.hasError) errors.push(`${file.path}: parse error`);
  return errors;
}

function unquote(node: SyntaxNode): string | Expression {
  if (node.namedChildren.some((child) => child.type === 'interpolation')) return { expr: node.text };
  const text = node.text;
  if (text.startsWith("'''")) return text.slice(3, -3).replace(/^\r?\n/, '');
  return text.slice(1, -1).replace(/\\'/g, "'").replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
}

function propertyKey(node: SyntaxNode): string {
  const key = node.namedChildren[0];
  if (key.type === 'string') {
    const value = unquote(key);
    return typeof value === 'string' ? value : value.expr;
  }
  return key.text;
}

/** A syntax node as a plain value: objects, arrays and literals; anything else stays an expression. */
export function toValue(node: SyntaxNode): BicepValue {
  switch (node.type) {
    case 'object': {
      const result: { [key: string]: BicepValue } = {};
      for (const property of node.namedChildren.filter((child) => child.type === 'object_property')) {
        const value = property.namedChildren[1];
        // A nested child resource (`resource settings 'config' = {...}`) is kept under its symbolic name.
        if (property.namedChildren[0].type === 'resource_declaration') {
          const nested = property.namedChildren[0];
          result[`resource:${nested.namedChildren[0].text}`] = declarationValue(nested);
          continue;
        }
        result[propertyKey(property)] = toValue(value);
      }
      return result;
    }
    case 'array':
      return node.namedChildren.filter((child) => child.type !== 'comment').map(toValue);
    case 'string':
      return unquote(node);
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'null':
      return null;
    default:
      return { expr: node.text };
  }
}

export interface Declaration {
  kind: 'param' | 'var' | 'resource' | 'module' | 'output';
  name: string;
  /** Resource type@api or module path, for resources and modules. */
  type?: string;
  /** The declared body (resources/modules: the object, loop body or conditional body). */
  node: SyntaxNode;
  /** Decorator source text, e.g. "@onlyIfNotExists()". */
  decorators: string[];
  /** Decorator arguments by decorator name, e.g. allowed: [[1, 2, 5]]. */
  decoratorArgs: Record<string, BicepValue[]>;
}

function decoratorArguments(decorators: SyntaxNode[]): Record<string, BicepValue[]> {
  const result: Record<string, BicepValue[]> = {};
  for (const decorator of decorators) {
    const call = decorator.namedChildren[0];
    if (call?.type !== 'call_expression') continue;
    const name = call.childForFieldName('function')?.text ?? call.namedChildren[0].text;
    const args = call.namedChildren.find((child) => child.type === 'arguments');
    result[name] = args ? args.namedChildren.map(toValue) : [];
  }
  return result;
}

const KINDS: Record<string, Declaration['kind']> = {
  parameter_declaration: 'param',
  variable_declaration: 'var',
  resource_declaration: 'resource',
  module_declaration: 'module',
  output_declaration: 'output',
};

function bodyOf(declaration: SyntaxNode): SyntaxNode {
  return declaration.namedChildren[declaration.namedChildren.length - 1];
}

/** The object a resource/module declaration describes, through `for` loops and `if` conditions. */
export function declarationBody(node: SyntaxNode): SyntaxNode {
  let body = bodyOf(node);
  while (body.type !== 'object' && body.namedChildren.length > 0) {
    const inner = body.childForFieldName('body') ?? body.namedChildren[body.namedChildren.length - 1];
    if (inner === body) break;
    body = inner;
  }
  return body;
}

function declarationValue(node: SyntaxNode): BicepValue {
  return toValue(declarationBody(node));
}

/** Top-level declarations in source order (nested child resources are inside their parent's value). */
export function declarations(file: BicepFile): Declaration[] {
  const result: Declaration[] = [];
  let pending: SyntaxNode[] = [];
  for (const node of file.tree.rootNode.namedChildren) {
    if (node.type === 'decorators') {
      pending = node.namedChildren;
      continue;
    }
    const kind = KINDS[node.type];
    if (kind) {
      const typeNode = node.namedChildren[1];
      result.push({
        kind,
        name: node.namedChildren[0].text,
        type: kind === 'resource' || kind === 'module' ? (unquote(typeNode) as string) : undefined,
        node,
        decorators: pending.map((decorator) => decorator.text),
        decoratorArgs: decoratorArguments(pending),
      });
    }
    if (node.type !== 'comment') pending = [];
  }
  return result;
}

/**
 * The comment lines written directly above a top-level declaration (above its decorators, if any), without `//`:
 * the block of comment lines that ends on the line before it. Empty when a blank line or code comes first.
 */
export function leadingComments(file: BicepFile, declared: Declaration): string[] {
  const children = file.tree.rootNode.namedChildren;
  let index = children.findIndex((node) => node.startIndex === declared.node.startIndex);
  if (index > 0 && children[index - 1].type === 'decorators') index -= 1;
  const lines: string[] = [];
  let nextRow = children[index].startPosition.row;
  for (let i = index - 1; i >= 0 && children[i].type === 'comment'; i -= 1) {
    if (children[i].endPosition.row !== nextRow - 1) break;
    lines.unshift(children[i].text.replace(/^\/\/\s?/, ''));
    nextRow = children[i].startPosition.row;
  }
  return lines;
}

export function declaration(file: BicepFile, kind: Declaration['kind'], name: string): Declaration {
  const found = declarations(file).find((d) => d.kind === kind && d.name === name);
  if (!found) throw new Error(`${file.path}: no ${kind} ${name}`);
  return found;
}

/** The value a `var` is assigned, or the body object of a resource/module. */
export function valueOf(file: BicepFile, kind: Declaration['kind'], name: string): BicepValue {
  const found = declaration(file, kind, name);
  if (kind === 'resource' || kind === 'module') return declarationValue(found.node);
  return toValue(bodyOf(found.node));
}

export function isExpression(value: BicepValue | undefined): value is Expression {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'expr' in value;
}

/** The source text of an expression value (or the string itself), for assertions on references. */
export function exprOf(value: BicepValue | undefined): string {
  if (isExpression(value)) return value.expr;
  if (typeof value === 'string') return value;
  throw new Error(`expected an expression, got ${JSON.stringify(value)}`);
}

export function asObject(value: BicepValue | undefined): { [key: string]: BicepValue } {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || isExpression(value)) {
    throw new Error(`expected an object, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function asArray(value: BicepValue | undefined): BicepValue[] {
  if (!Array.isArray(value)) throw new Error(`expected an array, got ${JSON.stringify(value)}`);
  return value;
}

export function asNumbers(value: BicepValue | undefined): number[] {
  return asArray(value).map((item) => {
    if (typeof item !== 'number') throw new Error(`expected a number, got ${JSON.stringify(item)}`);
    return item;
  });
}

/** Follows a dotted path through nested objects: get(value, 'properties.siteConfig.ftpsState'). */
export function get(value: BicepValue | undefined, path: string): BicepValue | undefined {
  let current: BicepValue | undefined = value;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || isExpression(current)) {
      return undefined;
    }
    current = current[key];
  }
  return current;
}

/** Every resource and nested child resource of a file with its type and body value. */
export interface ResourceDeclaration {
  name: string;
  type: string;
  /** `existing`: a reference to a resource deployed elsewhere, not a deployment of it. */
  existing: boolean;
  value: BicepValue;
  decorators: string[];
}

export function resources(file: BicepFile): ResourceDeclaration[] {
  const result: ResourceDeclaration[] = [];
  const visit = (node: SyntaxNode, parentType: string | undefined, decorators: string[]): void => {
    const name = node.namedChildren[0].text;
    const declared = unquote(node.namedChildren[1]) as string;
    // A nested resource declares only its child type ('config'); prefix the parent's type like Bicep does.
    const type = parentType && !declared.includes('/') ? `${parentType.split('@')[0]}/${declared}` : declared;
    const body = declarationBody(node);
    const existing = /^resource\s+\w+\s+'[^']*'\s+existing\s*=/.test(node.text);
    result.push({ name, type, existing, value: toValue(body), decorators });
    for (const property of body.namedChildren) {
      if (property.type === 'object_property' && property.namedChildren[0].type === 'resource_declaration') {
        visit(property.namedChildren[0], type, []);
      }
    }
  };
  for (const d of declarations(file)) if (d.kind === 'resource') visit(d.node, undefined, d.decorators);
  return result;
}

export interface Ternary {
  /** The condition's source text. */
  condition: string;
  whenTrue: BicepValue;
  whenFalse: BicepValue;
}

/** A `condition ? a : b` expression value split into its condition and both branches as plain values. */
export function ternary(value: BicepValue | undefined): Ternary {
  const source = `var x = ${exprOf(value)}\n`;
  const expression = parseBicep(source).tree.rootNode.namedChildren[0]?.namedChildren[1];
  // tree-sitter-bicep binds a member access after a ternary to the whole ternary (`c ? a : b.c` reads as
  // `(c ? a : b).c`): the ternary is then the innermost object of the member expression, and its last branch runs
  // to the end of the expression.
  let node = expression;
  while (node?.type === 'member_expression') node = node.namedChildren[0];
  if (!expression || node?.type !== 'ternary_expression') {
    throw new Error(`expected a ternary, got ${JSON.stringify(value)}`);
  }
  const [condition, whenTrue, whenFalse] = node.namedChildren;
  const alternative =
    node === expression
      ? toValue(whenFalse)
      : valueOfExpression(source.slice(whenFalse.startIndex, expression.endIndex));
  return { condition: condition.text, whenTrue: toValue(whenTrue), whenFalse: alternative };
}

function valueOfExpression(text: string): BicepValue {
  return toValue(parseBicep(`var x = ${text}\n`).tree.rootNode.namedChildren[0].namedChildren[1]);
}
