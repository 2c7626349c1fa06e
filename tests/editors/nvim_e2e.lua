-- End-to-end test of editors/neovim in a headless Neovim (0.7 and later):
--   nvim --headless -u NONE -i NONE -n -c 'luafile tests/editors/nvim_e2e.lua'
-- Environment: GOLSP_LEAKS_NVIM (the editors/neovim folder), GO_FILE (a Go file with one
-- lost-cancel leak), FIXED_FILE (what it must become), SERVER_CMD and GOPLS_CMD (JSON arrays; the
-- real gopls), RESULT (where to write the JSON result), FIX_TITLE, and TYPE_ERROR_LINE /
-- TYPE_ERROR_LINE_FIXED / TYPE_ERROR_MESSAGE (a type error gopls must report before the fix, and
-- after it one line further down).
-- Exits 0 when every check passed; the result file says what was seen at each step.
local env = vim.env
local result = { ok = false, steps = {}, version = tostring(vim.version().major) .. '.' .. tostring(vim.version().minor) .. '.' .. tostring(vim.version().patch) }
local started = vim.loop.hrtime()

local function ms()
  return math.floor((vim.loop.hrtime() - started) / 1e6)
end

local function step(name, detail)
  table.insert(result.steps, { name = name, ms = ms(), detail = detail })
  io.stderr:write(string.format('nvim-e2e: %d ms %s%s\n', ms(), name, detail and (': ' .. detail) or ''))
end

local function write_result()
  local f = assert(io.open(env.RESULT, 'w'))
  f:write(vim.fn.json_encode(result))
  f:close()
end

local function fail(message)
  error(message, 0)
end

local function wait_for(what, timeout, cond)
  if not vim.wait(timeout, cond, 50) then
    fail('timed out after ' .. timeout .. ' ms waiting for ' .. what)
  end
end

local function read_file(path)
  local f = assert(io.open(path, 'r'))
  local text = f:read('*a')
  f:close()
  return text
end

local function buffer_text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n') .. '\n'
end

local function buf_clients(bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = bufnr })
  end
  local list = {}
  for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
    table.insert(list, client)
  end
  return list
end

-- The newest client of that name attached to the buffer.
local function client_named(bufnr, name)
  local found = nil
  for _, client in ipairs(buf_clients(bufnr)) do
    if client.name == name and (found == nil or client.id > found.id) then
      found = client
    end
  end
  return found
end

local function diagnostics(bufnr, source)
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.source == source then
      table.insert(found, d)
    end
  end
  return found
end

-- What gopls's client has in the buffer (its namespace), as {line, severity, source, message}.
local function gopls_diagnostics(bufnr)
  local c = client_named(bufnr, 'gopls')
  if c == nil then
    return {}
  end
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr, { namespace = vim.lsp.diagnostic.get_namespace(c.id) })) do
    table.insert(found, { line = d.lnum + 1, severity = d.severity, source = d.source, message = d.message })
  end
  return found
end

local function code_of(d)
  return d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
end

local function main()
  local fix_title = env.FIX_TITLE
  local fixed = read_file(env.FIXED_FILE)
  local original = read_file(env.GO_FILE)
  vim.opt.runtimepath:prepend(env.GOLSP_LEAKS_NVIM)
  vim.cmd('filetype on')
  vim.o.swapfile = false

  -- gopls, as lspconfig would set it up: the real one, rooted at the go.mod's folder.
  -- (GOPLS_CMD empty: no gopls, for modules it cannot load offline.)
  local gopls_cmd = (env.GOPLS_CMD or '') ~= '' and vim.fn.json_decode(env.GOPLS_CMD) or nil
  vim.api.nvim_create_autocmd('FileType', {
    pattern = 'go',
    callback = function(args)
      if gopls_cmd == nil then
        return
      end
      local root = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(args.buf), ':p:h')
      if vim.fn.has('nvim-0.11') == 1 then
        vim.lsp.start({ name = 'gopls', cmd = gopls_cmd, root_dir = root }, { bufnr = args.buf })
      else
        local id = vim.lsp.start_client({ name = 'gopls', cmd = gopls_cmd, root_dir = root })
        vim.lsp.buf_attach_client(args.buf, id)
      end
    end,
  })

  -- A record of what the servers publish, for the result file.
  result.published = {}
  result.gopls_published = {}
  local publish = vim.lsp.handlers['textDocument/publishDiagnostics']
  vim.lsp.handlers['textDocument/publishDiagnostics'] = function(err, params, ctx, config)
    local c = vim.lsp.get_client_by_id(ctx.client_id)
    if c and c.name == 'gopls' and vim.uri_to_fname(params.uri) == vim.fn.fnamemodify(env.GO_FILE, ':p') then
      local seen = {}
      for _, item in ipairs(params.diagnostics or {}) do
        table.insert(seen, { line = item.range.start.line + 1, severity = item.severity, source = item.source, message = item.message })
      end
      table.insert(result.gopls_published, { version = params.version, ms = ms(), diagnostics = seen })
    end
    if c and c.name == 'golsp_leaks' then
      local summary = {}
      for _, item in ipairs(params.diagnostics or {}) do
        table.insert(summary, tostring(item.code) .. '/' .. tostring(item.severity))
      end
      table.insert(result.published, string.format('%d ms client %d v%s: %s', ms(), ctx.client_id,
        tostring(params.version), table.concat(summary, ',')))
    end
    return publish(err, params, ctx, config)
  end

  local golsp_leaks = require('golsp_leaks')
  golsp_leaks.setup({
    cmd = vim.fn.json_decode(env.SERVER_CMD),
    settings = { severity = { ['lost-cancel'] = 'error' }, debounceMs = 50 },
  })
  step('setup done')

  vim.cmd('edit ' .. vim.fn.fnameescape(env.GO_FILE))
  local bufnr = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[bufnr].filetype
  wait_for('both servers attached', 20000, function()
    return client_named(bufnr, 'golsp_leaks') ~= nil and (gopls_cmd == nil or client_named(bufnr, 'gopls') ~= nil)
  end)
  local client = client_named(bufnr, 'golsp_leaks')
  result.root_dir = client.config.root_dir
  result.init_options = client.config.init_options
  step('golsp_leaks and gopls attached', 'root ' .. tostring(client.config.root_dir))

  -- The finding to fix: lost-cancel, on line LEAK_LINE when given.
  local want_line = tonumber(env.LEAK_LINE or '')
  local function target()
    for _, item in ipairs(diagnostics(bufnr, 'golsp-leaks')) do
      if code_of(item) == 'lost-cancel' and (want_line == nil or item.lnum == want_line - 1) then
        return item
      end
    end
    return nil
  end
  local type_error_line = tonumber(env.TYPE_ERROR_LINE or '')
  -- gopls's diagnostics are right when they are exactly the deliberate type error.
  local function gopls_right(list, line)
    return #list == 1 and list[1].line == line and list[1].severity == 1
      and list[1].message:find(env.TYPE_ERROR_MESSAGE, 1, true) ~= nil
  end
  wait_for('golsp-leaks diagnostics' .. (type_error_line and ' and gopls\'s type error' or ''), 60000, function()
    return target() ~= nil and (type_error_line == nil or gopls_right(gopls_diagnostics(bufnr), type_error_line))
  end)
  local d = target()
  local lsp_item = d.user_data and d.user_data.lsp or {}
  result.diagnostic = { lnum = d.lnum, col = d.col, code = code_of(d), severity = d.severity, message = d.message,
    href = lsp_item.codeDescription and lsp_item.codeDescription.href or vim.NIL }
  result.gopls_before = gopls_diagnostics(bufnr)
  if d.severity ~= vim.diagnostic.severity.ERROR then
    fail('the severity setting did not reach the server: severity ' .. tostring(d.severity))
  end
  step('diagnostic', string.format('%d:%d %s [%s]', d.lnum + 1, d.col + 1, d.message, tostring(code_of(d))))

  -- The quick fix, as a user picks it: cursor on the finding, code action menu, choose by title.
  vim.api.nvim_win_set_cursor(0, { d.lnum + 1, d.col })
  local offered = {}
  local chosen = false
  vim.ui.select = function(items, opts, on_choice)
    for _, item in ipairs(items) do
      local action = item[2] or item.action or item
      table.insert(offered, action.title)
    end
    for i, item in ipairs(items) do
      local action = item[2] or item.action or item
      if action.title == fix_title then
        chosen = true
        on_choice(item, i)
        return
      end
    end
    on_choice(nil, nil)
  end
  if vim.fn.has('nvim-0.8') == 1 then
    vim.lsp.buf.code_action({ context = { only = { 'quickfix' } } })
  else
    vim.lsp.buf.code_action({ only = { 'quickfix' } })
  end
  wait_for('the code action menu', 10000, function()
    return #offered > 0
  end)
  result.offered = offered
  if not chosen then
    fail('no code action titled ' .. fix_title .. ' among: ' .. table.concat(offered, ' | '))
  end
  wait_for('the fix in the buffer', 10000, function()
    return buffer_text(bufnr) == fixed
  end)
  step('quick fix applied', table.concat(offered, ' | '))
  if type_error_line then
    -- gopls, attached all along, type-checks the fixed text: its report for that very version
    -- is the type error alone (still there, and nothing new).
    local version = vim.api.nvim_buf_get_changedtick(bufnr)
    local report
    wait_for('gopls diagnostics for version ' .. tostring(version), 30000, function()
      for _, p in ipairs(result.gopls_published) do
        if p.version == version then
          report = p
        end
      end
      return report ~= nil
    end)
    result.gopls_after_fix = report
    if not gopls_right(report.diagnostics, tonumber(env.TYPE_ERROR_LINE_FIXED)) then
      fail('gopls reports after the fix: ' .. vim.fn.json_encode(report.diagnostics))
    end
    step('gopls after the fix', vim.fn.json_encode(report.diagnostics))
  end
  if env.E2E_MODE == 'quickfix' then
    wait_for('the finding to go', 15000, function()
      return target() == nil
    end)
    vim.cmd('silent write')
    result.file_after = read_file(env.GO_FILE)
    result.ok = result.file_after == fixed
    return
  end
  wait_for('the diagnostic to go', 15000, function()
    return #diagnostics(bufnr, 'golsp-leaks') == 0
  end)
  step('diagnostic gone')

  -- Undo: the leak is back.
  vim.cmd('silent undo')
  wait_for('the undo', 5000, function()
    return buffer_text(bufnr) == original
  end)
  wait_for('the diagnostic after undo', 15000, function()
    return #diagnostics(bufnr, 'golsp-leaks') > 0
  end)
  step('undo: diagnostic back')

  -- Settings, live: turn the rule off, then on again.
  golsp_leaks.set_settings({ rules = { ['lost-cancel'] = false }, severity = { ['lost-cancel'] = 'error' }, debounceMs = 50 })
  wait_for('the rule to be turned off', 15000, function()
    return #diagnostics(bufnr, 'golsp-leaks') == 0
  end)
  step('rules.lost-cancel = false: no diagnostic')
  golsp_leaks.set_settings({ severity = { ['lost-cancel'] = 'warning' }, debounceMs = 50 })
  wait_for('the rule to be back, as a warning', 15000, function()
    local ds = diagnostics(bufnr, 'golsp-leaks')
    return #ds > 0 and ds[1].severity == vim.diagnostic.severity.WARN
  end)
  step('rules back on, severity warning')

  -- :GolspLeaksRestart gives a new client, which reports the leak again.
  local old_id = client.id
  vim.cmd('GolspLeaksRestart')
  local ok_restart = vim.wait(20000, function()
    local c = client_named(bufnr, 'golsp_leaks')
    return c ~= nil and c.id ~= old_id and c.initialized ~= false
  end, 50)
  if not ok_restart then
    local seen = {}
    for _, c in ipairs((vim.lsp.get_clients or vim.lsp.get_active_clients)()) do
      table.insert(seen, string.format('%d %s', c.id, c.name))
    end
    fail('no new golsp_leaks client after :GolspLeaksRestart; clients: ' .. table.concat(seen, ', ')
      .. '; messages: ' .. vim.fn.execute('messages'))
  end
  wait_for('diagnostics from the new client', 20000, function()
    return #diagnostics(bufnr, 'golsp-leaks') > 0
  end)
  result.restarted = true
  step(':GolspLeaksRestart')

  -- Fix all (source.fixAll.golsp-leaks).
  local action
  wait_for('the fix-all action', 10000, function()
    action = golsp_leaks.fix_all(bufnr)
    return action ~= nil
  end)
  result.fix_all_title = action.title
  wait_for('fix all in the buffer', 10000, function()
    return buffer_text(bufnr) == fixed
  end)
  wait_for('the diagnostic to go after fix all', 15000, function()
    return #diagnostics(bufnr, 'golsp-leaks') == 0
  end)
  step('fix all', action.title)

  vim.cmd('silent write')
  result.file_after = read_file(env.GO_FILE)
  if result.file_after ~= fixed then
    fail('the file on disk is not the fixed one')
  end
  result.gopls_still_attached = client_named(bufnr, 'gopls') ~= nil
  result.ok = true
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  result.error = tostring(err)
  io.stderr:write('nvim-e2e: FAILED: ' .. tostring(err) .. '\n')
end
result.total_ms = ms()
for _, client in ipairs((vim.lsp.get_clients or vim.lsp.get_active_clients)()) do
  if vim.fn.has('nvim-0.11') == 1 then
    client:stop()
  else
    client.stop()
  end
end
vim.wait(1000, function()
  return #((vim.lsp.get_clients or vim.lsp.get_active_clients)()) == 0
end, 50)
write_result()
if ok then
  vim.cmd('qall!')
else
  vim.cmd('cquit 1')
end
