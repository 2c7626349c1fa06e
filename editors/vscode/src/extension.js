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
const CLIENT_ONLY_KEYS = new Set(['server', 'python', 'trace']);

/** @type {vscode.OutputChannel | undefined} */
let output;
/** @type {LanguageClient | undefined} */
let client;
/** A chain so that start/stop/restart never overlap. */
let pending = Promise.resolve();
/** Set from the moment a restart is asked for until it has happened. */
let restartPending = false;
/** Where the bundled server's private environments go: the extension's globalStorage. */
let storagePath = path.join(os.tmpdir(), 'golsp-leaks-vscode');

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
    ...(typeof config.get('docsUrl') === 'string' ? { docsUrl: config.get('docsUrl') } : {}),
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
  const probe = childProcess.spawnSync(python, ['-I', '-c', 'import golsp_leaks'], {
    timeout: 15000,
    stdio: 'ignore',
    cwd: os.tmpdir(),
  });
  return probe.status === 0;
}

const MIN_PYTHON = [3, 10];
const WHEELS_DIR = path.join(__dirname, '..', 'bundle', 'wheels');

/** The bundle package.sh put into a platform .vsix: {target, version, id, wheels}, or undefined. */
function bundledServer(wheelsDir = WHEELS_DIR) {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(wheelsDir, 'manifest.json'), 'utf8'));
    return { ...manifest, dir: wheelsDir };
  } catch {
    return undefined;
  }
}

/**
 * The Python interpreters to try for the bundled server, in order: golspLeaks.python.path, the
 * interpreter selected in the Python extension (when it is installed), then python3 / python
 * on PATH (`py -3` and python on Windows). Each is {command, args, origin}.
 */
async function pythonCandidates() {
  const found = [];
  const configured = vscode.workspace.getConfiguration(SECTION).get('python.path');
  if (typeof configured === 'string' && configured.trim() !== '') {
    found.push({ command: expand(configured.trim()), args: [], origin: 'golspLeaks.python.path' });
  }
  const selected = await pythonExtensionInterpreter();
  if (selected) {
    found.push({ command: selected, args: [], origin: 'the Python extension' });
  }
  const names = process.platform === 'win32'
    ? [['py', ['-3']], ['python', []], ['python3', []]]
    : [['python3', []], ['python', []]];
  for (const [name, args] of names) {
    const full = which(name);
    if (full) {
      found.push({ command: full, args, origin: 'PATH' });
    }
  }
  return found;
}

/** The interpreter selected in the Python extension (ms-python.python), when there is one. */
async function pythonExtensionInterpreter() {
  const extensions = vscode.extensions;
  const extension = extensions && extensions.getExtension('ms-python.python');
  if (!extension) {
    return undefined;
  }
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
    const resource = folder ? folder.uri : undefined;
    if (api && api.environments && api.environments.getActiveEnvironmentPath) {
      const active = api.environments.getActiveEnvironmentPath(resource);
      const resolved = active && api.environments.resolveEnvironment
        ? await api.environments.resolveEnvironment(active)
        : undefined;
      const file = resolved && resolved.executable && resolved.executable.uri
        ? resolved.executable.uri.fsPath
        : active && active.path;
      if (file) {
        return file;
      }
    }
    if (api && api.settings && api.settings.getExecutionDetails) {
      const details = api.settings.getExecutionDetails(resource);
      if (details && Array.isArray(details.execCommand) && details.execCommand.length === 1) {
        return details.execCommand[0];
      }
    }
  } catch (error) {
    log(`asking the Python extension for its interpreter: ${error && error.message ? error.message : error}`);
  }
  return undefined;
}

/** "3.11" when the interpreter is CPython/PyPy 3.x with the venv module, else undefined. */
function pythonVersion(candidate) {
  const probe = childProcess.spawnSync(candidate.command, [...candidate.args, '-I', '-c',
    'import sys, venv; print("%d.%d" % sys.version_info[:2])'], {
    timeout: 15000,
    encoding: 'utf8',
    cwd: os.tmpdir(),
    windowsHide: true,
  });
  if (probe.status !== 0 || !probe.stdout) {
    return undefined;
  }
  const match = /^(\d+)\.(\d+)\s*$/.exec(probe.stdout.trim());
  return match ? `${match[1]}.${match[2]}` : undefined;
}

function suitable(version) {
  const [major, minor] = version.split('.').map(Number);
  return major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1]);
}

/** The first candidate that is Python 3.10+ with venv: {command, args, origin, version} or {error}. */
async function findInterpreter(candidates) {
  const tried = [];
  for (const candidate of candidates) {
    const version = pythonVersion(candidate);
    const label = [candidate.command, ...candidate.args].join(' ');
    if (version && suitable(version)) {
      return { ...candidate, version };
    }
    tried.push(`${label} (${candidate.origin}): ${version ? `Python ${version}` : 'not a usable Python with venv'}`);
    log(`not using ${label} from ${candidate.origin}: ${version ? `Python ${version} is older than 3.10` : 'it did not run, or has no venv module'}`);
  }
  return {
    error: `golsp-leaks needs Python ${MIN_PYTHON.join('.')} or later to run its language server, and none was found`
      + (tried.length ? ` (tried: ${tried.join('; ')}).` : ' (no python3 on PATH, no golspLeaks.python.path).'),
    noPython: true,
  };
}

function venvPython(dir) {
  return process.platform === 'win32' ? path.join(dir, 'Scripts', 'python.exe') : path.join(dir, 'bin', 'python');
}

function runLogged(command, args, options) {
  return new Promise((resolve) => {
    log(`running ${[command, ...args].join(' ')}`);
    const child = childProcess.spawn(command, args, { ...options, windowsHide: true });
    let text = '';
    const collect = (chunk) => {
      text += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) => resolve({ status: -1, text: String(error) }));
    child.on('close', (status) => {
      if (text.trim()) {
        log(text.trim());
      }
      resolve({ status, text });
    });
  });
}

/**
 * Installs the bundled wheels, offline, into a private environment under `storage` (the
 * extension's globalStorage), once per bundle and Python version: `python -m venv --without-pip`,
 * then the bundled pip installs golsp-leaks from the wheels with --no-index. Environments of other
 * bundles (older versions of the extension) are removed. Returns {command, args} or {error}.
 */
async function ensureEnvironment(bundle, python, storage) {
  const name = `server-${bundle.id}-py${python.version}`;
  const dir = path.join(storage, name);
  const marker = path.join(dir, '.golsp-leaks-installed');
  const exe = venvPython(dir);
  if (fs.existsSync(marker) && fs.existsSync(exe)) {
    return { command: exe, args: ['-I', '-m', 'golsp_leaks', 'serve'] };
  }
  fs.mkdirSync(storage, { recursive: true });
  for (const entry of fs.readdirSync(storage)) {
    if (entry.startsWith('server-') && entry !== name) {
      fs.rmSync(path.join(storage, entry), { recursive: true, force: true });
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const env = { ...process.env, PIP_NO_INPUT: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1' };
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  delete env.PIP_REQUIRE_VIRTUALENV;
  const options = { cwd: storage, env };
  let step = await runLogged(python.command, [...python.args, '-I', '-m', 'venv', '--without-pip', dir], options);
  if (step.status !== 0 || !fs.existsSync(exe)) {
    return { error: `golsp-leaks: could not make a Python environment in ${dir} with ${python.command} (exit ${step.status}).` };
  }
  const pip = bundle.wheels.find((wheel) => /^pip-.*\.whl$/.test(wheel));
  if (!pip) {
    return { error: 'golsp-leaks: the extension carries no pip wheel; reinstall the extension.' };
  }
  step = await runLogged(exe, [path.join(bundle.dir, pip, 'pip'), 'install', '--no-index', '--find-links', bundle.dir,
    '--no-warn-script-location', `golsp-leaks==${bundle.version}`], options);
  if (step.status !== 0) {
    const last = step.text.trim().split('\n').slice(-1)[0] || '';
    return { error: `golsp-leaks: installing the bundled language server for Python ${python.version} failed (${last}).` };
  }
  fs.writeFileSync(marker, `${bundle.id}\n`);
  return { command: exe, args: ['-I', '-m', 'golsp_leaks', 'serve'] };
}

/**
 * Decides how to start the server, in order: golspLeaks.server.path; golsp-leaks on PATH (one the
 * user installed); the wheels bundled in a platform .vsix, installed into a private environment
 * with a Python 3.10+ (golspLeaks.python.path, the Python extension's interpreter, python3 on
 * PATH); without a bundle, `python3 -m golsp_leaks` when that Python has it.
 * Returns {command, args, origin} or {error, noPython?}.
 */
async function resolveServer(storage, bundle = bundledServer()) {
  const configured = vscode.workspace.getConfiguration(SECTION).get('server.path');
  if (Array.isArray(configured) && configured.length > 0) {
    const [command, ...args] = configured.map((part) => expand(String(part)));
    if (!which(command)) {
      return { error: `golsp-leaks: \`${command}\` from the setting golspLeaks.server.path was not found or is not executable.`, setting: true };
    }
    return { command, args, origin: 'golspLeaks.server.path' };
  }
  if (typeof configured === 'string' && configured.trim() !== '') {
    const command = expand(configured.trim());
    if (!which(command)) {
      return { error: `golsp-leaks: \`${command}\` from the setting golspLeaks.server.path was not found or is not executable.`, setting: true };
    }
    return { command, args: ['serve'], origin: 'golspLeaks.server.path' };
  }
  const onPath = which('golsp-leaks');
  if (onPath) {
    return { command: onPath, args: ['serve'], origin: 'PATH' };
  }
  if (bundle) {
    const python = await findInterpreter(await pythonCandidates());
    if (python.error) {
      return python;
    }
    const installed = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'golsp-leaks: setting up the language server' },
      () => ensureEnvironment(bundle, python, storage),
    );
    if (installed.error) {
      return installed;
    }
    return {
      ...installed,
      origin: `the bundled wheels, Python ${python.version} ${[python.command, ...python.args].join(' ')} from ${python.origin}`,
    };
  }
  const pythons = process.platform === 'win32' ? ['python', 'py'] : ['python3', 'python'];
  for (const python of pythons) {
    if (pythonHasServer(python)) {
      return { command: python, args: ['-m', 'golsp_leaks', 'serve'], origin: python };
    }
  }
  return { error: 'golsp-leaks: the language server was not found (no `golsp-leaks` on PATH, and `python3 -m golsp_leaks` is not installed).', setting: true };
}

async function notifyNotStarted(problem) {
  const { message, noPython } = typeof problem === 'string' ? { message: problem } : problem;
  log(message);
  const openSettings = 'Open Settings';
  const showLog = 'Show Log';
  const getPython = 'Get Python';
  const actions = noPython ? [getPython, openSettings, showLog] : [openSettings, showLog];
  const text = noPython
    ? `${message} Install Python 3.10+ (or select one in the Python extension), or set \`golspLeaks.python.path\`.`
    : `${message} ${INSTALL_HINT}`;
  const choice = await vscode.window.showErrorMessage(text, ...actions);
  if (choice === openSettings) {
    // In a remote window (SSH, WSL, containers, code-server) the server runs on the remote
    // machine, and golspLeaks.server.path (machine-overridable) lives in its settings.
    const command = vscode.env.remoteName ? 'workbench.action.openRemoteSettings' : 'workbench.action.openSettings';
    await vscode.commands.executeCommand(command, { query: noPython ? 'golspLeaks.python.path' : 'golspLeaks.server.path' });
  } else if (choice === getPython) {
    await vscode.env.openExternal(vscode.Uri.parse('https://www.python.org/downloads/'));
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
  let server;
  try {
    server = await resolveServer(storagePath);
  } catch (error) {
    server = { error: `golsp-leaks: setting up the language server failed: ${error && error.message ? error.message : error}` };
  }
  if (server.error) {
    void notifyNotStarted({ message: server.error, noPython: server.noPython });
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
  if (context.globalStorageUri) {
    storagePath = context.globalStorageUri.fsPath;
  }
  context.subscriptions.push(
    vscode.commands.registerCommand('golspLeaks.restartServer', () => restart()),
    vscode.commands.registerCommand('golspLeaks.showOutput', () => output && output.show(true)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('golspLeaks.server.path') || event.affectsConfiguration('golspLeaks.python.path')) {
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

module.exports = { activate, deactivate, _internal: { resolveServer, serverSettings, stripClientKeys, findInterpreter, pythonCandidates, ensureEnvironment, bundledServer } };
