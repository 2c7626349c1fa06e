// Unit checks of editors/vscode/src/extension.js outside VS Code: the `vscode` and
// `vscode-languageclient/node` modules are replaced by stubs, then the server discovery and the
// settings shape are checked for each case. Prints one JSON object; exits 0 when all passed.
'use strict';

const Module = require('module');
const fs = require('fs');
const os = require('os');
const path = require('path');

const settings = {};
let pythonExtension;
const progressTitles = [];
const vscodeStub = {
  extensions: { getExtension: (id) => (id === 'ms-python.python' ? pythonExtension : undefined) },
  window: { withProgress: (options, task) => { progressTitles.push(options.title); return task(); } },
  ProgressLocation: { Notification: 15 },
  workspace: {
    workspaceFolders: [{ uri: { fsPath: '/ws/project' } }],
    getConfiguration(section) {
      return {
        get(key, fallback) {
          const full = `${section}.${key}`;
          return Object.prototype.hasOwnProperty.call(settings, full) ? settings[full] : fallback;
        },
      };
    },
  },
};
const clientStub = {
  LanguageClient: class {},
  RevealOutputChannelOn: { Never: 4 },
  DidChangeConfigurationNotification: { type: 'workspace/didChangeConfiguration' },
  State: { Running: 2, Starting: 3, Stopped: 1 },
};
const originalLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  if (request === 'vscode') {
    return vscodeStub;
  }
  if (request === 'vscode-languageclient/node') {
    return clientStub;
  }
  return originalLoad.call(this, request, parent, isMain);
};

const { _internal } = require(process.env.EXTENSION_JS);
const checks = [];
function check(name, ok, detail) {
  checks.push({ name, ok: Boolean(ok), detail });
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'golsp-leaks-vscode-unit-'));
function executable(dir, name, body = '#!/bin/sh\nexit 0\n') {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, body);
  fs.chmodSync(file, 0o755);
  return file;
}
function reset() {
  for (const key of Object.keys(settings)) {
    delete settings[key];
  }
}

(async () => {
try {
  const onPath = path.join(tmp, 'bin');
  const server = executable(onPath, 'golsp-leaks');
  const elsewhere = executable(path.join(tmp, 'opt'), 'golsp-leaks-custom');

  // 1. The setting, a string: that executable, run with `serve`.
  reset();
  settings['golspLeaks.server.path'] = elsewhere;
  let r = await _internal.resolveServer(path.join(tmp, 'storage'), null);
  check('server.path string', r.command === elsewhere && r.args.join(' ') === 'serve' && r.origin === 'golspLeaks.server.path', r);

  // 2. The setting, an array: the whole command line, with ${workspaceFolder} expanded.
  reset();
  settings['golspLeaks.server.path'] = [elsewhere, '--flag', '${workspaceFolder}/x', 'serve'];
  r = await _internal.resolveServer(path.join(tmp, 'storage'), null);
  check('server.path array', r.command === elsewhere && r.args.join(' ') === '--flag /ws/project/x serve', r);

  // 3. The setting names nothing that exists: an error that names the setting.
  reset();
  settings['golspLeaks.server.path'] = '/nonexistent/golsp-leaks';
  r = await _internal.resolveServer(path.join(tmp, 'storage'), null);
  check('server.path missing', r.error && r.error.includes('golspLeaks.server.path') && r.error.includes('/nonexistent/golsp-leaks'), r);

  // 4. No setting: golsp-leaks on PATH.
  reset();
  process.env.PATH = [onPath, '/usr/bin', '/bin'].join(path.delimiter);
  r = await _internal.resolveServer(path.join(tmp, 'storage'), null);
  check('golsp-leaks on PATH', r.command === server && r.args.join(' ') === 'serve' && r.origin === 'PATH', r);

  // 5. No setting, not on PATH: python3 -m golsp_leaks when python3 can import it.
  const pyDir = path.join(tmp, 'py');
  executable(pyDir, 'python3', '#!/bin/sh\n[ "$1" = "-I" ] && [ "$2" = "-c" ] && [ "$3" = "import golsp_leaks" ] && exit 0\nexit 1\n');
  process.env.PATH = [pyDir, '/bin'].join(path.delimiter);
  r = await _internal.resolveServer(path.join(tmp, 'storage'), null);
  check('python3 -m golsp_leaks', r.command === 'python3' && r.args.join(' ') === '-m golsp_leaks serve', r);

  // 6. Nothing at all: an error (the notification adds the pip install hint).
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  executable(empty, 'python3', '#!/bin/sh\nexit 1\n');
  process.env.PATH = empty;
  r = await _internal.resolveServer(path.join(tmp, 'storage'), null);
  check('nothing found', r.error && /not found/.test(r.error), r);

  // 7. What the server receives: golspLeaks without the editor's own keys.
  reset();
  settings['golspLeaks.rules'] = { 'lost-cancel': false };
  settings['golspLeaks.severity'] = { 'unclosed-rows': 'error' };
  settings['golspLeaks.exclude'] = ['gen/**'];
  settings['golspLeaks.debounceMs'] = 250;
  settings['golspLeaks.server.path'] = '/x';
  let sent = _internal.serverSettings();
  check('serverSettings shape', JSON.stringify(sent) === JSON.stringify({
    rules: { 'lost-cancel': false }, severity: { 'unclosed-rows': 'error' }, exclude: ['gen/**'], debounceMs: 250,
  }), sent);
  settings['golspLeaks.docsUrl'] = 'https://docs.example/rules/';
  sent = _internal.serverSettings();
  check('docsUrl passed on when set', sent.docsUrl === 'https://docs.example/rules/', sent);
  const stripped = _internal.stripClientKeys({ rules: {}, server: { path: '/x' }, python: { path: '/p' }, trace: { server: 'off' }, debounceMs: 1 });
  check('stripClientKeys', JSON.stringify(stripped) === JSON.stringify({ rules: {}, debounceMs: 1 }), stripped);

  // 8. With a bundle, the interpreter: golspLeaks.python.path first, then the Python extension's
  // selection, then python3 / python on PATH; each must be Python 3.10+ with venv.
  const pyBin = path.join(tmp, 'pybin');
  const fakePython = (name, version) => executable(pyBin, name,
    `#!/bin/sh\ncase "$*" in *"import sys, venv"*) echo ${version}; exit 0;; esac\nexit 1\n`);
  const old = fakePython('python3', '3.9');
  const good = fakePython('python', '3.12');
  const selected = fakePython('python-selected', '3.11');
  const configuredPython = fakePython('python-configured', '3.13');
  reset();
  process.env.PATH = pyBin;
  let candidates = await _internal.pythonCandidates();
  check('candidates from PATH', candidates.map((c) => c.command).join(' ') === `${old} ${good}`, candidates);
  let chosen = await _internal.findInterpreter(candidates);
  check('python 3.9 skipped, 3.12 chosen', chosen.command === good && chosen.version === '3.12', chosen);
  pythonExtension = {
    isActive: true,
    exports: { environments: {
      getActiveEnvironmentPath: () => ({ path: selected }),
      resolveEnvironment: async (p) => ({ executable: { uri: { fsPath: p.path } } }),
    } },
  };
  settings['golspLeaks.python.path'] = configuredPython;
  candidates = await _internal.pythonCandidates();
  check('setting, then the Python extension, then PATH',
    candidates.map((c) => `${c.command}<${c.origin}`).join(' ') ===
      `${configuredPython}<golspLeaks.python.path ${selected}<the Python extension ${old}<PATH ${good}<PATH`, candidates);
  chosen = await _internal.findInterpreter(candidates);
  check('the configured python is used', chosen.command === configuredPython && chosen.version === '3.13', chosen);
  pythonExtension = undefined;

  // 9. No suitable Python: an error that says what is needed and what was tried.
  reset();
  fs.rmSync(good);
  process.env.PATH = pyBin;
  const none = await _internal.resolveServer(path.join(tmp, 'storage'), { id: 'x', version: '0', wheels: [], dir: tmp });
  check('no suitable python', none.noPython === true && /needs Python 3\.10 or later/.test(none.error) && none.error.includes('Python 3.9'), none);

  // 10. A golsp-leaks on PATH still wins over the bundle.
  process.env.PATH = [onPath, pyBin].join(path.delimiter);
  r = await _internal.resolveServer(path.join(tmp, 'storage'), { id: 'x', version: '0', wheels: [], dir: tmp });
  check('PATH before the bundle', r.command === server && r.origin === 'PATH' && progressTitles.length === 0, r);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

const ok = checks.every((c) => c.ok);
process.stdout.write(JSON.stringify({ ok, checks }) + '\n');
process.exit(ok ? 0 : 1);
})();
