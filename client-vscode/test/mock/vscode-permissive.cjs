// The `vscode` mock for the real vscode-languageclient: test/mock/vscode.ts, plus a harmless
// stand-in for every other API the library touches while it starts (it registers no
// language features for agentls, whose server declares none).
'use strict';
const base = require('./vscode.ts');

/** A value that can be called, constructed and read from, and is a disposable. */
function anything() {
  const fn = function () {
    return anything();
  };
  return new Proxy(fn, {
    get(target, prop) {
      if (prop === 'then') return undefined; // not a promise
      if (prop === Symbol.iterator) return [][Symbol.iterator];
      if (prop === Symbol.toPrimitive) return () => '';
      if (prop === 'dispose') return () => undefined;
      if (prop in target) return target[prop];
      return anything();
    },
    apply() {
      return anything();
    },
    construct() {
      return anything();
    },
  });
}

function permissive(namespace, extra) {
  const target = Object.assign({}, extra);
  return new Proxy(namespace, {
    get(ns, prop) {
      if (prop in target) return target[prop];
      if (prop in ns) return ns[prop];
      return anything();
    },
  });
}

const api = {
  ...base,
  version: '1.95.0',
  env: permissive({}, { appName: 'Visual Studio Code (test)', language: 'en', machineId: 'test' }),
  languages: permissive({}, { match: () => 0, createDiagnosticCollection: () => anything() }),
  window: permissive(base.window, { activeTextEditor: undefined, visibleTextEditors: [], tabGroups: { all: [] } }),
  workspace: permissive(base.workspace, { textDocuments: [], notebookDocuments: [] }),
  commands: permissive(base.commands, {}),
  ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
};

module.exports = new Proxy(api, {
  get(target, prop) {
    if (prop in target) return target[prop];
    if (prop === '__esModule') return false;
    return anything();
  },
});
