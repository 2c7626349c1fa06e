// A minimal second language client for the VS Code end-to-end test: it starts gopls (the
// command in goplsTestClient.command) for Go files, as the Go extension would, so that the
// golsp-leaks extension is tested next to the real gopls.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

async function activate() {
  const [command, ...args] = vscode.workspace.getConfiguration('goplsTestClient').get('command', []);
  if (!command) {
    return;
  }
  client = new LanguageClient('goplsTestClient', 'gopls', { command, args }, {
    documentSelector: [{ scheme: 'file', language: 'go' }],
  });
  await client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
