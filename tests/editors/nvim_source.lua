-- Loads editors/neovim the ways a user may without calling setup() by hand, then opens a Go file:
--   E2E_MODE=luafile: `:luafile .../lua/golsp_leaks.lua` with vim.g.golsp_leaks set;
--   E2E_MODE=plugin:  the folder on 'runtimepath' and plugin/golsp_leaks.lua sourced.
-- Writes {"attached": ..., "diagnostics": n} to RESULT; exits 0 when a golsp-leaks diagnostic came.
local env = vim.env
vim.cmd('filetype on')
vim.o.swapfile = false
vim.g.golsp_leaks = { cmd = vim.fn.json_decode(env.SERVER_CMD) }
if env.E2E_MODE == 'luafile' then
  vim.cmd('luafile ' .. vim.fn.fnameescape(env.GOLSP_LEAKS_NVIM .. '/lua/golsp_leaks.lua'))
else
  vim.opt.runtimepath:prepend(env.GOLSP_LEAKS_NVIM)
  vim.cmd('runtime! plugin/golsp_leaks.lua')
end
vim.cmd('edit ' .. vim.fn.fnameescape(env.GO_FILE))
local got = vim.wait(30000, function()
  for _, d in ipairs(vim.diagnostic.get(0)) do
    if d.source == 'golsp-leaks' then
      return true
    end
  end
  return false
end, 50)
local names = {}
for _, c in ipairs((vim.lsp.get_clients or vim.lsp.get_active_clients)()) do
  table.insert(names, c.name)
end
local f = assert(io.open(env.RESULT, 'w'))
f:write(vim.fn.json_encode({
  attached = names,
  diagnostics = #vim.diagnostic.get(0),
  commands = vim.fn.exists(':GolspLeaksRestart') == 2 and vim.fn.exists(':GolspLeaksFixAll') == 2,
  loaded = package.loaded['golsp_leaks'] ~= nil,
}))
f:close()
for _, c in ipairs((vim.lsp.get_clients or vim.lsp.get_active_clients)()) do
  if vim.fn.has('nvim-0.11') == 1 then c:stop() else c.stop() end
end
vim.wait(1000, function() return #((vim.lsp.get_clients or vim.lsp.get_active_clients)()) == 0 end, 50)
vim.cmd(got and 'qall!' or 'cquit 1')
