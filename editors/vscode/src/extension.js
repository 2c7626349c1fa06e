// golsp-leaks for VS Code: starts the golsp-leaks language server for Go files.
//
// The server runs beside gopls (the Go extension's server); VS Code merges the
// diagnostics and code actions of both.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const childProcess = require('child_process');
const vscode = require('vscode');
const {
  LanguageClient,
  RevealOutputChannelOn,
  DidChangeConfigurationNotification,
  State,
} = require('vscode-languageclient/node');

const SECTION = 'golspLeaks';
const NAME = 'golsp-leaks';
const INSTALL_HINT = 'Install with `pip install golsp-leaks`, or set `golspLeaks.server.path`.';
// Keys under golspLeaks.* that belong to the editor, not to the server.
const CLIENT_ONLY_KEYS = new Set(['server', 'trace']);

/** @type {vscode.OutputChannel | undefined} */
let output;
/** @type {LanguageClient | undefined} */
let client;
/** A chain so that start/stop/restart never overlap. */
let pending = Promise.resolve();
/** Set from the moment a restart is asked for until it has happened. */
let restartPending = false;

function log(message) {
  if (output) {
    output.appendLine(`[client ${new Date().toLocaleTimeString()}] ${message}`);
  }
}

/** The settings the server understands: golspLeaks.* less the editor's own keys. */
function serverSettings(scope) {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  return {
    rules: plain(config.get('rules', {})),
    severity: plain(config.get('severity', {})),
    exclude: plain(config.get('exclude', [])),
    debounceMs: config.get('debounceMs', 100),
  };
}

function plain(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function stripClientKeys(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return value;
  }
  const copy = {};
  for (const [key, inner] of Object.entries(value)) {
    if (!CLIENT_ONLY_KEYS.has(key)) {
      copy[key] = inner;
    }
  }
  return copy;
}

function expand(text) {
  let result = text;
  if (result === '~' || result.startsWith('~/')) {
    result = path.join(os.homedir(), result.slice(1));
  }
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  if (folder) {
    result = result.split('${workspaceFolder}').join(folder.uri.fsPath);
  }
  result = result.split('${userHome}').join(os.homedir());
  return result;
}

function isExecutable(file) {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) {
      return false;
    }
    if (process.platform === 'win32') {
      return true;
    }
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The full path of an executable found on PATH, or undefined. */
function which(name) {
  if (name.includes('/') || name.includes(path.sep)) {
    return isExecutable(name) ? name : undefined;
  }
  const exts = process.platform === 'win32'
    ? (process.env.PATHEXT || '.EXE;.CMD;.BAT').split(';').concat([''])
    : [''];
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) {
      continue;
    }
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

function pythonHasServer(python) {
  if (!which(python)) {
    return false;
  }
  const probe = childProcess.spawnSync(python, ['-c', 'import golsp_leaks'], {
    timeout: 15000,
    stdio: 'ignore',
  });
  return probe.status === 0;
}

/**
 * Decides how to start the server: golspLeaks.server.path, else golsp-leaks on PATH,
 * else `python3 -m golsp_leaks`. Returns {command, args, origin} or {error}.
 */
function resolveServer() {
  const configured = vscode.workspace.getConfiguration(SECTION).get('server.path');
  if (Array.isArray(configured) && configured.length > 0) {
    const [command, ...args] = configured.map((part) => expand(String(part)));
    if (!which(command)) {
      return { error: `golsp-leaks: \`${command}\` from the setting golspLeaks.server.path was not found or is not executable.` };
    }
    return { command, args, origin: 'golspLeaks.server.path' };
  }
  if (typeof configured === 'string' && configured.trim() !== '') {
    const command = expand(configured.trim());
    if (!which(command)) {
      return { error: `golsp-leaks: \`${command}\` from the setting golspLeaks.server.path was not found or is not executable.` };
    }
    return { command, args: ['serve'], origin: 'golspLeaks.server.path' };
  }
  const onPath = which('golsp-leaks');
  if (onPath) {
    return { command: onPath, args: ['serve'], origin: 'PATH' };
  }
  const pythons = process.platform === 'win32' ? ['python', 'py'] : ['python3', 'python'];
  for (const python of pythons) {
    if (pythonHasServer(python)) {
      return { command: python, args: ['-m', 'golsp_leaks', 'serve'], origin: python };
    }
  }
  return { error: 'golsp-leaks: the language server was not found (no `golsp-leaks` on PATH, and `python3 -m golsp_leaks` is not installed).' };
}

async function notifyNotStarted(message) {
  log(message);
  const openSettings = 'Open Settings';
  const showLog = 'Show Log';
  const choice = await vscode.window.showErrorMessage(`${message} ${INSTALL_HINT}`, openSettings, showLog);
  if (choice === openSettings) {
    // In a remote window (SSH, WSL, containers, code-server) the server runs on the remote
    // machine, and golspLeaks.server.path (machine-overridable) lives in its settings.
    const command = vscode.env.remoteName ? 'workbench.action.openRemoteSettings' : 'workbench.action.openSettings';
    await vscode.commands.executeCommand(command, { query: 'golspLeaks.server.path' });
  } else if (choice === showLog && output) {
    output.show(true);
  }
}

function createClient(server) {
  const serverOptions = {
    command: server.command,
    args: server.args,
    options: { env: process.env },
  };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'go' },
      { scheme: 'untitled', language: 'go' },
    ],
    outputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions: serverSettings(),
    synchronize: { configurationSection: SECTION },
    middleware: {
      workspace: {
        // workspace/configuration: hand the server golspLeaks without server.* and trace.*.
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          return result.map((value, index) => {
            const item = params.items[index] || {};
            return item.section === SECTION || item.section === undefined
              ? stripClientKeys(value)
              : value;
          });
        },
        // workspace/didChangeConfiguration: {settings: {golspLeaks: {rules, severity, exclude, debounceMs}}}.
        didChangeConfiguration: async () => {
          if (restartPending || client !== self || self.state !== State.Running) {
            return; // a restart is coming, or this client is on its way out
          }
          try {
            await self.sendNotification(DidChangeConfigurationNotification.type, {
              settings: { [SECTION]: serverSettings() },
            });
          } catch (error) {
            log(`sending the settings: ${error && error.message ? error.message : error}`);
          }
        },
      },
    },
  };
  const self = new LanguageClient(SECTION, NAME, serverOptions, clientOptions);
  return self;
}

async function startNow() {
  const server = resolveServer();
  if (server.error) {
    void notifyNotStarted(server.error);
    return;
  }
  log(`starting ${[server.command, ...server.args].join(' ')} (from ${server.origin})`);
  const next = createClient(server);
  client = next;
  try {
    await next.start();
    log('server started');
  } catch (error) {
    log(`the server did not start: ${error && error.message ? error.message : error}`);
    if (client === next) {
      client = undefined;
    }
    try {
      await next.dispose(2000);
    } catch {
      // It never ran.
    }
    void notifyNotStarted(`golsp-leaks: \`${[server.command, ...server.args].join(' ')}\` did not start as a language server.`);
  }
}

async function stopNow() {
  const current = client;
  client = undefined;
  if (!current) {
    return;
  }
  try {
    if (current.state === State.Running || current.state === State.Starting) {
      await current.stop(5000);
    }
  } catch (error) {
    log(`stopping the server: ${error && error.message ? error.message : error}`);
  }
}

function queue(step) {
  pending = pending.then(step, step);
  return pending;
}

function restart() {
  restartPending = true;
  return queue(async () => {
    log('restarting the server');
    try {
      await stopNow();
    } finally {
      restartPending = false;
    }
    await startNow();
  });
}

function activate(context) {
  output = vscode.window.createOutputChannel(NAME);
  context.subscriptions.push(output);
  context.subscriptions.push(
    vscode.commands.registerCommand('golspLeaks.restartServer', () => restart()),
    vscode.commands.registerCommand('golspLeaks.showOutput', () => output && output.show(true)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('golspLeaks.server.path')) {
        void restart();
      }
    }),
  );
  const api = {
    /** For tests and other extensions: the running client, if any. */
    get client() {
      return client;
    },
    restart,
  };
  return queue(startNow).then(() => api);
}

function deactivate() {
  return queue(stopNow);
}

module.exports = { activate, deactivate, _internal: { resolveServer, serverSettings, stripClientKeys } };
