// Every infra suite runs from this one test file: tree-sitter can be loaded only once per process (see bicep.ts).
import './parse.suite';
import './settings.suite';
import './security.suite';
import './diagnostics.suite';
import './network.suite';
import './storage.suite';
import './flex.suite';
import './kql.suite';
import './monitoring.suite';
