-- golsp-leaks for Neovim: registers the golsp-leaks language server for Go buffers.
--
-- Works from Neovim 0.7 to 0.11+, next to gopls (Neovim attaches several servers to a buffer).
--
--   require('golsp_leaks').setup({
--     cmd = { 'golsp-leaks', 'serve' },        -- default: golsp-leaks on $PATH, else python3 -m golsp_leaks serve
--     settings = {                             -- the server's `golspLeaks` settings
--       rules = { ['pool-get-without-put'] = false },
--       severity = { ['lost-cancel'] = 'error' },
--       exclude = { 'gen/**' },
--       debounceMs = 150,
--     },
--     on_attach = function(client, bufnr) end, -- optional, as for any LSP client
--   })
--
-- On 0.11+ this uses vim.lsp.config()/vim.lsp.enable(); before, a FileType autocommand starts
-- (or reuses, per project root) a client and attaches it to the buffer.  Settings reach the
-- server as initializationOptions, as `workspace/configuration` answers (0.8+) and with a
-- `workspace/didChangeConfiguration` after initialization (needed on 0.7).
--
-- The file can also be run directly (`:luafile golsp_leaks.lua` or `nvim -u golsp_leaks.lua`):
-- it then calls setup(vim.g.golsp_leaks or {}).
local M = {}

M.name = 'golsp_leaks'
M.install_hint = 'Install the server with `pip install golsp-leaks` (or set `cmd` in setup()).'

M.defaults = {
  cmd = nil,
  filetypes = { 'go' },
  root_markers = { 'go.work', 'go.mod', '.git' },
  settings = {},
  on_attach = nil,
  capabilities = nil,
  -- Start for a Go file outside any project too (the root is then the file's folder).
  single_file_support = true,
}

M.config = nil
local group = nil

local has_011 = vim.lsp.config ~= nil and vim.lsp.enable ~= nil and vim.fn.has('nvim-0.11') == 1

-- Client methods: called with `:` from 0.11 on (the `.` forms are deprecated there), with `.`
-- before (0.7-0.10 clients hold closures that take no self).
local method_calls = vim.fn.has('nvim-0.11') == 1
local function call(client, method, ...)
  if method_calls then
    return client[method](client, ...)
  end
  return client[method](...)
end
M._call = call

local function notify(message, level)
  vim.schedule(function()
    vim.notify('golsp-leaks: ' .. message, level or vim.log.levels.WARN)
  end)
end

--- The command that starts the server: `cmd` from setup(), else golsp-leaks on $PATH,
--- else `python3 -m golsp_leaks serve` when that module is installed.
function M.resolve_cmd(cmd)
  if type(cmd) == 'string' then
    return { cmd, 'serve' }
  end
  if type(cmd) == 'table' and #cmd > 0 then
    return cmd
  end
  if vim.fn.executable('golsp-leaks') == 1 then
    return { 'golsp-leaks', 'serve' }
  end
  for _, python in ipairs({ 'python3', 'python' }) do
    if vim.fn.executable(python) == 1 then
      vim.fn.system({ python, '-c', 'import golsp_leaks' })
      if vim.v.shell_error == 0 then
        return { python, '-m', 'golsp_leaks', 'serve' }
      end
    end
  end
  return nil
end

local function is_dir(path)
  local stat = vim.loop.fs_stat(path)
  return stat ~= nil and stat.type == 'directory'
end

local function exists(path)
  return vim.loop.fs_stat(path) ~= nil
end

--- The project root of a file: the nearest folder above it holding one of the markers.
function M.find_root(fname, markers)
  markers = markers or M.defaults.root_markers
  if fname == nil or fname == '' then
    return nil
  end
  local dir = vim.fn.fnamemodify(fname, ':p:h')
  while dir and dir ~= '' do
    for _, marker in ipairs(markers) do
      if exists(dir .. '/' .. marker) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ':h')
    if parent == dir then
      break
    end
    dir = parent
  end
  return nil
end

local function server_settings(config)
  return vim.deepcopy(config.settings or {})
end

-- Pull diagnostics (Neovim 0.10+) without `workspace/diagnostic/refresh` support (0.11 does
-- not declare it): after the server has read new settings, pull the buffers' diagnostics again
-- so that they follow the settings at once rather than at the next edit.
local function refresh_support()
  local caps = vim.lsp.protocol.make_client_capabilities()
  return caps.workspace and caps.workspace.diagnostics and caps.workspace.diagnostics.refreshSupport or false
end

local function repull(client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  if client == nil or client.server_capabilities == nil or not client.server_capabilities.diagnosticProvider then
    return
  end
  if refresh_support() then
    return -- the server asks for the pull itself
  end
  for bufnr, _ in pairs(client.attached_buffers or {}) do
    if vim.api.nvim_buf_is_loaded(bufnr) then
      call(client, 'request', 'textDocument/diagnostic', { textDocument = vim.lsp.util.make_text_document_params(bufnr) },
        nil, bufnr)
    end
  end
end

local function on_configuration(err, result, ctx, config)
  local answer = vim.lsp.handlers['workspace/configuration'](err, result, ctx, config)
  vim.defer_fn(function()
    repull(ctx.client_id)
  end, 150)
  return answer
end

--- The fields shared by every way of starting the client.
local function client_config(config, cmd)
  local settings = server_settings(config)
  local init_options = vim.deepcopy(settings)
  return {
    name = M.name,
    cmd = cmd,
    handlers = { ['workspace/configuration'] = on_configuration },
    -- An empty table would go out as a JSON array; vim.empty_dict() goes out as {}.
    init_options = next(init_options) and init_options or vim.empty_dict(),
    settings = { golspLeaks = next(settings) and settings or vim.empty_dict() },
    capabilities = config.capabilities,
    on_attach = config.on_attach,
  }
end

local function clients()
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  local found = {}
  for _, client in ipairs(get()) do
    if client.name == M.name then
      table.insert(found, client)
    end
  end
  return found
end
M.clients = clients

local function send_settings(client)
  call(client, 'notify', 'workspace/didChangeConfiguration', { settings = client.settings or client.config.settings })
end

-- Neovim before 0.11: start or reuse a client for the buffer's root, and attach it.
local function attach_legacy(bufnr)
  local config = M.config
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then
    return
  end
  local fname = vim.api.nvim_buf_get_name(bufnr)
  local root = M.find_root(fname, config.root_markers)
  if root == nil then
    if not config.single_file_support then
      return
    end
    root = fname ~= '' and vim.fn.fnamemodify(fname, ':p:h') or vim.loop.cwd()
  end
  for _, client in ipairs(clients()) do
    if client.config.root_dir == root and not retired[client.id] and not call(client, 'is_stopped') then
      vim.lsp.buf_attach_client(bufnr, client.id)
      return
    end
  end
  local cmd = M.resolve_cmd(config.cmd)
  if cmd == nil then
    notify('the language server was not found. ' .. M.install_hint, vim.log.levels.ERROR)
    return
  end
  local new = client_config(config, cmd)
  new.root_dir = root
  new.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
  new.on_init = function(client)
    -- 0.7 neither asks for settings (no workspace/configuration) nor sends them: send them.
    send_settings(client)
    return true
  end
  local ok, id = pcall(vim.lsp.start_client, new)
  if not ok or id == nil then
    notify('could not start `' .. table.concat(cmd, ' ') .. '`: ' .. tostring(id) .. '. ' .. M.install_hint,
      vim.log.levels.ERROR)
    return
  end
  vim.lsp.buf_attach_client(bufnr, id)
end

--- Register the server.  Calling it again replaces the configuration; running clients get the
--- new settings at once.
function M.setup(opts)
  opts = opts or {}
  local config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  -- Lists replace the defaults rather than merging index by index.
  for _, key in ipairs({ 'filetypes', 'root_markers', 'cmd' }) do
    if opts[key] ~= nil then
      config[key] = opts[key]
    end
  end
  M.config = config

  if has_011 then
    local cmd = M.resolve_cmd(config.cmd)
    if cmd == nil then
      notify('the language server was not found. ' .. M.install_hint, vim.log.levels.ERROR)
      return M
    end
    local c = client_config(config, cmd)
    c.filetypes = config.filetypes
    c.root_markers = config.root_markers
    c.workspace_required = not config.single_file_support
    vim.lsp.config(M.name, c)
    vim.lsp.enable(M.name)
  else
    group = vim.api.nvim_create_augroup('golsp_leaks', { clear = true })
    vim.api.nvim_create_autocmd('FileType', {
      group = group,
      pattern = config.filetypes,
      callback = function(args)
        attach_legacy(args.buf)
      end,
      desc = 'golsp-leaks: start or attach the language server',
    })
    -- Buffers already open when setup() runs.
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(config.filetypes, vim.bo[bufnr].filetype) then
        attach_legacy(bufnr)
      end
    end
  end

  -- Clients already running (setup() called again) get the new settings.
  M.set_settings(config.settings)
  return M
end

--- Change the server settings of the running clients (and of clients started later).
function M.set_settings(settings)
  if M.config == nil then
    return
  end
  M.config.settings = vim.deepcopy(settings or {})
  for _, client in ipairs(clients()) do
    local current = client.config.settings and client.config.settings.golspLeaks or {}
    if not vim.deep_equal(current, M.config.settings) then
      local settings = { golspLeaks = next(M.config.settings) and vim.deepcopy(M.config.settings) or vim.empty_dict() }
      -- 0.7-0.10 answer workspace/configuration from client.config.settings, 0.11+ from
      -- client.settings: keep both.
      client.config.settings = settings
      if client.settings ~= nil then
        client.settings = settings
      end
      send_settings(client)
    end
  end
end

-- Clients being stopped by restart(): never reused for a buffer.
local retired = {}

local function reattach(buffers)
  for bufnr, _ in pairs(buffers) do
    if vim.api.nvim_buf_is_valid(bufnr) then
      if has_011 then
        vim.api.nvim_exec_autocmds('FileType', { buffer = bufnr })
      else
        attach_legacy(bufnr)
      end
    end
  end
end

--- Stop the golsp-leaks clients and attach the Go buffers again (once the old servers are gone,
--- or after 5 s).
function M.restart()
  local buffers = {}
  local old = {}
  for _, client in ipairs(clients()) do
    for bufnr, _ in pairs(client.attached_buffers or {}) do
      buffers[bufnr] = true
    end
    retired[client.id] = true
    table.insert(old, client.id)
    call(client, 'stop')
  end
  if #old == 0 then
    -- Nothing ran (the server was not found before?): attach the open Go buffers.
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(bufnr) and M.config and vim.tbl_contains(M.config.filetypes, vim.bo[bufnr].filetype) then
        buffers[bufnr] = true
      end
    end
    reattach(buffers)
    return
  end
  local waited = 0
  local timer = vim.loop.new_timer()
  timer:start(100, 100, vim.schedule_wrap(function()
    waited = waited + 100
    local alive = false
    for _, id in ipairs(old) do
      local client = vim.lsp.get_client_by_id(id)
      if client ~= nil and not call(client, 'is_stopped') then
        alive = true
      end
    end
    if (alive and waited < 5000) or timer:is_closing() then
      return
    end
    timer:stop()
    timer:close()
    reattach(buffers)
  end))
end

--- Apply every golsp-leaks fix in the buffer (the `source.fixAll.golsp-leaks` code action).
--- With { apply = false }, returns the action instead.  Synchronous (timeout in ms).
function M.fix_all(bufnr, opts)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  opts = opts or {}
  local last = math.max(vim.api.nvim_buf_line_count(bufnr) - 1, 0)
  local last_text = vim.api.nvim_buf_get_lines(bufnr, last, last + 1, false)[1] or ''
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = { line = 0, character = 0 }, ['end'] = { line = last, character = #last_text } },
    context = { diagnostics = {}, only = { 'source.fixAll.golsp-leaks' } },
  }
  for _, client in ipairs(clients()) do
    if client.attached_buffers == nil or client.attached_buffers[bufnr] then
      local response = call(client, 'request_sync', 'textDocument/codeAction', params, opts.timeout or 5000, bufnr)
      for _, action in ipairs((response and response.result) or {}) do
        if action.kind and action.kind:find('^source%.fixAll') then
          if not action.edit and action.data ~= nil then
            local resolved = call(client, 'request_sync', 'codeAction/resolve', action, opts.timeout or 5000, bufnr)
            action = (resolved and resolved.result) or action
          end
          if opts.apply == false then
            return action
          end
          if action.edit then
            vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding or 'utf-16')
            return action
          end
        end
      end
    end
  end
  return nil
end

vim.api.nvim_create_user_command('GolspLeaksRestart', function()
  M.restart()
end, { desc = 'golsp-leaks: restart the language server' })
vim.api.nvim_create_user_command('GolspLeaksFixAll', function()
  M.fix_all(0)
end, { desc = 'golsp-leaks: apply every golsp-leaks fix in the buffer' })

-- Run as a file rather than required: register the module and set it up.
if ... == nil then
  package.loaded['golsp_leaks'] = M
  M.setup(vim.g.golsp_leaks or {})
end

return M
