import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What the Azure Functions Node worker gives the app as `@azure/functions-core`, for loading the app in a plain
 * `node` process (the cold-start benchmark, the deployment package tests): preloaded with `node -r <file>`, it answers
 * `require('@azure/functions-core')` the way the worker does (by intercepting `require`, so nothing is installed),
 * records every function and hook the app registers on `globalThis.__functionsCore`, and runs hooks on request
 * (`runHooks('appTerminate')`, as the worker does on WorkerTerminate before it exits).
 */
export const FUNCTIONS_CORE_STAND_IN = `
'use strict';
const Module = require('node:module');
const state = {
  functions: [],
  hooks: {},
  programmingModel: undefined,
  async runHooks(name) {
    const context = { hookData: {}, appHookData: {} };
    for (const callback of state.hooks[name] || []) await callback(context);
  },
};
globalThis.__functionsCore = state;
class Disposable {
  constructor(callback) { this.callback = callback; }
  dispose() { this.callback(); }
}
const core = {
  version: 'stand-in',
  hostVersion: '4.0.0',
  setProgrammingModel(model) { state.programmingModel = model; },
  getProgrammingModel() { return state.programmingModel; },
  registerFunction(metadata) { state.functions.push(metadata.name); return new Disposable(() => undefined); },
  registerHook(name, callback) { (state.hooks[name] = state.hooks[name] || []).push(callback); return new Disposable(() => undefined); },
  log() {},
  Disposable,
};
const original = Module.prototype.require;
Module.prototype.require = function (id) {
  return id === '@azure/functions-core' ? core : original.apply(this, arguments);
};
`;

/** What the stand-in records, as a child process sees it on `globalThis.__functionsCore`. */
export interface FunctionsCoreState {
  functions: string[];
  hooks: Record<string, unknown[]>;
  runHooks(name: string): Promise<void>;
}

/** Writes the stand-in into `dir`; returns the file to preload (`node -r <file>`). */
export function writeFunctionsCoreStandIn(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'functions-core-stand-in.js');
  writeFileSync(file, FUNCTIONS_CORE_STAND_IN);
  return file;
}
