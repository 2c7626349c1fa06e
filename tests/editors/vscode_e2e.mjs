// End-to-end test of the golsp-leaks VS Code extension in a real VS Code (code-server),
// driven through headless Chromium with playwright-core.
//
// Environment:
//   CODE_SERVER      path of code-server's entry (out/node/entry.js) or its bin
//   PLAYWRIGHT_CORE  folder whose node_modules holds playwright-core
//   VSIX             the packaged extension
//   WORKSPACE        folder to open; GO_FILE (relative to it) holds one lost-cancel leak
//   ARTIFACTS        folder for screenshots and logs
//   CHROMIUM         browser (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS   whole-run limit (default 150000)
//   GOPLS_VSIX, GOPLS_CMD, GOPLS_FILE, GOPLS_SOURCE, GOPLS_TYPE_ERROR
//                    optional: a second client running gopls (GOPLS_CMD, JSON), and a file
//                    (GOPLS_FILE, copied from GOPLS_SOURCE) with a leak and that type error
//
// Prints one JSON line with the results on stdout; exits 0 when every check passed.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const env = process.env;
const CODE_SERVER = env.CODE_SERVER;
const VSIX = env.VSIX;
const WORKSPACE = env.WORKSPACE;
const GO_FILE = env.GO_FILE || 'main.go';
const ARTIFACTS = env.ARTIFACTS || path.resolve('tests/artifacts');
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = Number(env.E2E_TIMEOUT_MS || 150000);
const require = createRequire(path.join(env.PLAYWRIGHT_CORE, 'package.json'));
const { chromium } = require('playwright-core');

const started = Date.now();
const steps = [];
const result = { ok: false, steps };
let server;
let context;
let home;

function step(name, extra = {}) {
  const entry = { name, ms: Date.now() - started, ...extra };
  steps.push(entry);
  process.stderr.write(`vscode-e2e: ${entry.ms} ms ${name}${extra.detail ? ': ' + extra.detail : ''}\n`);
}

function killServer() {
  if (server && server.exitCode === null && server.signalCode === null) {
    // code-server ends its children (the extension host, and so the language server) with it.
    server.kill('SIGTERM');
  }
}

async function finish(code, error) {
  if (error) {
    result.error = String(error && error.stack ? error.stack : error);
    process.stderr.write(`vscode-e2e: FAILED: ${result.error}\n`);
  }
  result.total_ms = Date.now() - started;
  if (context) {
    try {
      const page = context.pages()[0];
      if (page && code !== 0) {
        await page.screenshot({ path: path.join(ARTIFACTS, 'vscode-failure.png') });
      }
    } catch {
      // best effort
    }
    try {
      await context.close();
    } catch {
      // best effort
    }
  }
  killServer();
  if (server) {
    const until = Date.now() + 5000;
    while (server.exitCode === null && server.signalCode === null && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
    }
  }
  if (home && !env.E2E_KEEP) {
    fs.rmSync(home, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(code);
}

const watchdog = setTimeout(() => {
  finish(3, new Error(`timed out after ${TIMEOUT} ms (last step: ${steps.length ? steps[steps.length - 1].name : 'none'})`));
}, TIMEOUT);
watchdog.unref();

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url, ms) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    if (server.exitCode !== null) {
      throw new Error(`code-server exited with ${server.exitCode}`);
    }
    try {
      const response = await fetch(url);
      if (response.ok) {
        return;
      }
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server did not answer ${url} within ${ms} ms (${last})`);
}

function codeServerCommand(args) {
  return CODE_SERVER.endsWith('.js') ? [process.execPath, [CODE_SERVER, ...args]] : [CODE_SERVER, args];
}

async function editorText(page) {
  // The lines as the editor shows them (the file is short enough to be all visible).
  return page.evaluate(() => {
    const lines = [...document.querySelectorAll('.monaco-editor .view-lines .view-line')];
    const items = lines.map((el) => ({ top: parseFloat(el.style.top) || 0, text: el.textContent.replace(/\u00a0/g, ' ') }));
    items.sort((a, b) => a.top - b.top);
    return items.map((i) => i.text).join('\n');
  });
}

// Open a file with Quick Open (Ctrl+P), as a user does; wait for its tab.
// A file written a moment ago may not be in Quick Open's index yet (on a busy machine): ask again.
async function quickOpen(page, name) {
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Control+P');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type(name);
    const found = await page
      .waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${name}"]`, { timeout: 20000 })
      .then(() => true, (error) => {
        if (attempt >= 4) {
          throw error;
        }
        return false;
      });
    if (found) {
      break;
    }
    await page.keyboard.press('Escape');
  }
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.tab.active[aria-label*="${name}"]`);
}

// Put the cursor at LINE:COLUMN of the editor (Go to Line, Ctrl+G).
async function goTo(page, editor, where) {
  await page.click(editor);
  await page.keyboard.press('Control+G');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type(where);
  await page.keyboard.press('Enter');
  await page.waitForTimeout(300);
}

// Choose the `defer cancel()` fix in the open Quick Fix menu with the keyboard, as a user does
// (the menu blocks the pointer until it moves).
async function chooseQuickFix(page, titles) {
  const wanted = /Insert .?defer cancel\(\).? after the call/;
  let chosen = false;
  for (let i = 0; i < 8 && !chosen; i++) {
    const focused = await page.$eval('.action-widget .monaco-list-row.focused', (r) => r.getAttribute('aria-label') || r.textContent).catch(() => '');
    if (wanted.test(focused)) {
      await page.keyboard.press('Enter');
      chosen = true;
    } else {
      await page.keyboard.press('ArrowDown');
      await page.waitForTimeout(100);
    }
  }
  if (!chosen) {
    throw new Error(`no quick fix titled like ${wanted} in the menu: ${titles.join(' | ')}`);
  }
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'golsp-leaks-vscode-'));
  const userData = path.join(home, 'user-data');
  const extensions = path.join(home, 'extensions');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  const settingsFile = path.join(userData, 'User', 'settings.json');
  const baseSettings = {
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'workbench.enableExperiments': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'security.workspace.trust.enabled': false,
    'git.enabled': false,
    'git.autoRepositoryDetection': false,
    'editor.lightbulb.enabled': 'on',
    'files.autoSave': 'off',
    'golspLeaks.trace.server': 'verbose',
    'golspLeaks.debounceMs': 50,
    ...(env.GOPLS_CMD ? { 'goplsTestClient.command': JSON.parse(env.GOPLS_CMD) } : {}),
  };
  fs.writeFileSync(settingsFile, JSON.stringify(baseSettings, null, 2));
  const childEnv = {
    ...env,
    XDG_CONFIG_HOME: path.join(home, 'config'),
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_CACHE_HOME: path.join(home, 'cache'),
    EXTENSIONS_GALLERY: '{}',
  };

  const [installCmd, installArgs] = codeServerCommand([
    '--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', VSIX,
  ]);
  const install = spawnSync(installCmd, installArgs, { env: childEnv, encoding: 'utf8', timeout: 60000 });
  if (install.status !== 0) {
    throw new Error(`--install-extension failed (${install.status}): ${install.stdout}\n${install.stderr}`);
  }
  if (env.GOPLS_VSIX) {
    const [cmd2, args2] = codeServerCommand([
      '--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', env.GOPLS_VSIX,
    ]);
    const second = spawnSync(cmd2, args2, { env: childEnv, encoding: 'utf8', timeout: 60000 });
    if (second.status !== 0) {
      throw new Error(`--install-extension (gopls client) failed (${second.status}): ${second.stdout}\n${second.stderr}`);
    }
  }
  step('installed the .vsix', { detail: install.stdout.trim().split('\n').pop() });

  const port = await freePort();
  const [cmd, args] = codeServerCommand([
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override', '--disable-proxy',
    '--user-data-dir', userData, '--extensions-dir', extensions, WORKSPACE,
  ]);
  const log = fs.openSync(path.join(ARTIFACTS, 'vscode-code-server.log'), 'w');
  server = spawn(cmd, args, { env: childEnv, stdio: ['ignore', log, log] });
  await waitHealthy(`http://127.0.0.1:${port}/healthz`, 60000);
  step('code-server is up', { detail: `port ${port}` });

  context = await chromium.launchPersistentContext(path.join(home, 'browser'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(30000);
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(WORKSPACE)}`);
  await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
  step('workbench loaded');

  // Open the Go file with Quick Open.
  await page.waitForTimeout(1000);
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type(path.basename(GO_FILE));
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${path.basename(GO_FILE)}"]`);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.tab[aria-label*="${path.basename(GO_FILE)}"]`);
  await page.waitForFunction(() => document.querySelector('.monaco-editor .view-lines')?.textContent.includes('context.WithTimeout'));
  step('opened the Go file');

  // Problems panel, and the squiggle.
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+Shift+M');
  await page.waitForSelector('.markers-panel');
  const problem = await page.waitForFunction(
    () => {
      const panel = document.querySelector('.markers-panel');
      const text = panel ? panel.innerText : '';
      return text.includes('lost-cancel') && text.includes('golsp-leaks') ? text : false;
    },
    null,
    { timeout: 60000 },
  );
  const problemsText = await problem.jsonValue();
  result.problems_before = problemsText;
  // The rule id is a link to the rule's page (codeDescription.href).
  result.problem_links = await page.$$eval('.markers-panel a', (links) => links.map((a) => a.getAttribute('href') || a.title || ''));
  await page.waitForSelector('.monaco-editor .squiggly-warning, .monaco-editor .squiggly-error', { timeout: 30000 });
  step('diagnostic in the Problems panel and a squiggle', { detail: problemsText.slice(0, 160) });
  await page.screenshot({ path: path.join(ARTIFACTS, 'vscode-diagnostic.png') });

  // Settings reach the server live: make lost-cancel an error in the user settings.
  await page.waitForSelector('.monaco-editor .squiggly-warning', { timeout: 10000 }).catch(() => {
    throw new Error('the default severity should show a warning squiggle');
  });
  // (In the workspace's .vscode/settings.json: VS Code watches the workspace for changes.)
  fs.mkdirSync(path.join(WORKSPACE, '.vscode'), { recursive: true });
  fs.writeFileSync(path.join(WORKSPACE, '.vscode', 'settings.json'), JSON.stringify({
    'golspLeaks.severity': { 'lost-cancel': 'error' },
    '[go]': { 'editor.codeActionsOnSave': { 'source.fixAll.golsp-leaks': 'explicit' } },
  }, null, 2));
  await page.waitForSelector('.monaco-editor .squiggly-error', { timeout: 30000 });
  await page.waitForSelector('.markers-panel .codicon-error', { timeout: 30000 });
  step('golspLeaks.severity changed live: now an error');
  await page.screenshot({ path: path.join(ARTIFACTS, 'vscode-diagnostic-error.png') });

  // Put the cursor on the finding: Go to Line 14, column 8 (on `cancel`).
  await goTo(page, '.monaco-editor .view-lines', '14:8');
  const lightbulb = await page
    .waitForSelector('.monaco-editor .lightBulbWidget', { state: 'visible', timeout: 10000 })
    .then(() => true, () => false);
  result.lightbulb = lightbulb;
  step('cursor on the finding', { detail: lightbulb ? 'lightbulb shown' : 'no lightbulb seen' });

  // Quick Fix menu (Ctrl+.), then the fix by its title.
  await page.keyboard.press('Control+.');
  await page.waitForSelector('.action-widget', { state: 'visible' });
  const titles = await page.$$eval('.action-widget .monaco-list-row', (rows) => rows.map((r) => r.textContent));
  result.quick_fix_menu = titles;
  await page.screenshot({ path: path.join(ARTIFACTS, 'vscode-quickfix-menu.png') });
  step('quick fix menu', { detail: titles.join(' | ') });
  await chooseQuickFix(page, titles);

  // The buffer changes: `defer cancel()` right after the WithTimeout line, and only there.
  const fixed = (text) => {
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.includes('context.WithTimeout'));
    return at >= 0 && /^\s*defer cancel\(\)\s*$/.test(lines[at + 1] || '')
      && lines.filter((l) => l.includes('defer cancel()')).length === 1;
  };
  let after = '';
  const until = Date.now() + 20000;
  while (Date.now() < until) {
    after = await editorText(page);
    if (fixed(after)) {
      break;
    }
    await page.waitForTimeout(200);
  }
  result.editor_after = after;
  if (!fixed(after)) {
    throw new Error(`the editor does not show the fix:\n${after}`);
  }
  step('quick fix applied in the editor');

  // Save; the diagnostic disappears from the Problems panel.
  await page.keyboard.press('Control+S');
  await page.waitForFunction(
    () => {
      const panel = document.querySelector('.markers-panel');
      return panel && !panel.innerText.includes('lost-cancel') && /No problems/.test(panel.innerText);
    },
    null,
    { timeout: 30000 },
  );
  await page.waitForFunction(() => !document.querySelector('.monaco-editor .squiggly-warning, .monaco-editor .squiggly-error'));
  step('diagnostic gone');
  const deadline = Date.now() + 10000;
  let onDisk = fs.readFileSync(path.join(WORKSPACE, GO_FILE), 'utf8');
  while (!onDisk.includes('defer cancel()') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    onDisk = fs.readFileSync(path.join(WORKSPACE, GO_FILE), 'utf8');
  }
  result.file_after = onDisk;
  await page.screenshot({ path: path.join(ARTIFACTS, 'vscode-fixed.png') });

  // The commands, from the Command Palette: restart the server, then show its log.
  const runCommand = async (title) => {
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type(title);
    await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${title}"]`);
    await page.keyboard.press('Enter');
  };
  await runCommand('golsp-leaks: Restart Server');
  step('ran golsp-leaks: Restart Server');
  await page.waitForTimeout(1500);
  await runCommand('golsp-leaks: Show Server Log');
  await page.waitForFunction(() => {
    const select = document.querySelector('.monaco-select-box');
    return select && /golsp-leaks/.test(select.value || select.textContent || '');
  }, null, { timeout: 15000 }).catch(() => undefined);
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(ARTIFACTS, 'vscode-output.png') });
  step('ran golsp-leaks: Show Server Log');

  // VS Code keeps each output channel in a log file too: read the golsp-leaks one.
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(full);
      } else if (/-golsp-leaks\.log$/.test(entry.name)) {
        found.push(full);
      }
    }
  };
  let channelLog = '';
  const logUntil = Date.now() + 10000;
  while (Date.now() < logUntil) {
    found.length = 0;
    walk(path.join(userData, 'logs'));
    channelLog = found.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    if ((channelLog.match(/server started/g) || []).length >= 2) {
      break;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  fs.writeFileSync(path.join(ARTIFACTS, 'vscode-golsp-leaks-output.log'), channelLog);
  result.output_channel_files = found.map((f) => path.basename(f));
  // How the server was started each time, and how often the bundled wheels were installed.
  result.server_starts = channelLog.split('\n').filter((l) => /\] starting .* \(from /.test(l));
  result.bundle_installs = channelLog.split('\n').filter((l) => /\] running .* install --no-index/.test(l)).length;
  result.restarted = /restarting the server/.test(channelLog) && (channelLog.match(/server started/g) || []).length >= 2;
  // The settings the server was handed (trace verbose logs the params).
  result.init_options_shape = /"initializationOptions": \{\s*"rules"/.test(channelLog);
  result.server_subkey_leaked = /"server": \{\s*"path"/.test(channelLog);
  if (!result.restarted) {
    throw new Error('the output channel does not show the restart');
  }
  if (!result.init_options_shape || result.server_subkey_leaked) {
    throw new Error('the server did not receive the golspLeaks settings in the expected shape');
  }
  // Fix all on save: "[go]": {"editor.codeActionsOnSave": {"source.fixAll.golsp-leaks": "explicit"}}
  // (set in the workspace settings), then open the second Go file and save it.
  if (env.SECOND_FILE) {
    const secondFixed = fs.readFileSync(env.SECOND_FIXED, 'utf8');
    await quickOpen(page, env.SECOND_FILE);
    await page.keyboard.press('Control+Shift+M');
    await page.waitForFunction(() => (document.querySelector('.markers-panel')?.innerText || '').includes('lost-cancel'), null, { timeout: 30000 });
    await page.click('.editor-group-container.active .monaco-editor .view-lines');
    await page.keyboard.press('Control+S');
    let second = '';
    const saveUntil = Date.now() + 20000;
    while (Date.now() < saveUntil) {
      second = fs.readFileSync(path.join(WORKSPACE, env.SECOND_FILE), 'utf8');
      if (second === secondFixed) {
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    result.second_after_save = second;
    if (second !== secondFixed) {
      throw new Error(`saving did not apply source.fixAll.golsp-leaks:\n${second}`);
    }
    await page.waitForFunction(() => !(document.querySelector('.markers-panel')?.innerText || '').includes('lost-cancel'), null, { timeout: 30000 });
    step('fix all on save (editor.codeActionsOnSave)');
  }

  // Next to the real gopls, run by a second, minimal client: a package with a lost-cancel leak
  // and a type error (written now, so that the Problems panel was empty for the steps above).
  if (env.GOPLS_VSIX) {
    const file = path.join(WORKSPACE, env.GOPLS_FILE);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.copyFileSync(env.GOPLS_SOURCE, file);
    await quickOpen(page, path.basename(file));
    await page.keyboard.press('Control+Shift+M');
    const both = await page.waitForFunction(
      (message) => {
        const text = document.querySelector('.markers-panel')?.innerText || '';
        return text.includes('lost-cancel') && text.includes(message) ? text : false;
      },
      env.GOPLS_TYPE_ERROR,
      { timeout: 90000 },
    );
    result.gopls_before = await both.jsonValue();
    await page.screenshot({ path: path.join(ARTIFACTS, 'vscode-gopls-before.png') });
    step('next to gopls: both servers\' diagnostics', { detail: result.gopls_before.replace(/\s+/g, ' ').slice(0, 200) });
    await goTo(page, '.editor-group-container.active .monaco-editor .view-lines', env.GOPLS_LEAK_AT);
    await page.keyboard.press('Control+.');
    await page.waitForSelector('.action-widget', { state: 'visible' });
    const goplsTitles = await page.$$eval('.action-widget .monaco-list-row', (rows) => rows.map((r) => r.textContent));
    await chooseQuickFix(page, goplsTitles);
    const after = await page.waitForFunction(
      ([message, line]) => {
        const text = document.querySelector('.markers-panel')?.innerText || '';
        return !text.includes('lost-cancel') && text.includes(message) && text.includes(`[Ln ${line},`) ? text : false;
      },
      [env.GOPLS_TYPE_ERROR, env.GOPLS_FIXED_LINE],
      { timeout: 60000 },
    );
    result.gopls_after_fix = await after.jsonValue();
    await page.keyboard.press('Control+S');
    const saveUntil = Date.now() + 20000;
    while (Date.now() < saveUntil && !fs.readFileSync(file, 'utf8').includes('time.Second)\n\tdefer cancel()\n')) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'vscode-gopls-after.png') });
    step('next to gopls: fixed, gopls still reports its type error', { detail: result.gopls_after_fix.replace(/\s+/g, ' ').slice(0, 200) });
  }

  // A server that cannot be found: a notification that says how to install it, with a
  // button to the setting.
  fs.writeFileSync(path.join(WORKSPACE, '.vscode', 'settings.json'), JSON.stringify({
    'golspLeaks.severity': { 'lost-cancel': 'error' },
    'golspLeaks.server.path': '/nonexistent/bin/golsp-leaks',
  }, null, 2));
  const toast = page.locator('.notification-toast', { hasText: 'pip install golsp-leaks' }).first();
  await toast.waitFor({ state: 'visible', timeout: 30000 });
  result.missing_server_notification = (await toast.innerText()).replace(/\s+/g, ' ').trim();
  await page.screenshot({ path: path.join(ARTIFACTS, 'vscode-server-missing.png') });
  await toast.locator('.monaco-button', { hasText: 'Open Settings' }).first().click();
  await page.waitForSelector('.settings-editor', { state: 'visible', timeout: 15000 });
  await page.waitForFunction(() => (document.querySelector('.settings-editor')?.innerText || '').includes('Server: Path'), null, { timeout: 15000 });
  step('missing server: notification and Open Settings', { detail: result.missing_server_notification.slice(0, 140) });
  await page.screenshot({ path: path.join(ARTIFACTS, 'vscode-settings.png') });

  result.ok = true;
  await finish(0);
}

main().catch((error) => finish(1, error));
