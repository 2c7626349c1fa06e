-- golsp-leaks: loaded when editors/neovim is on 'runtimepath' (a plugin manager, or
-- `set runtimepath+=/path/to/editors/neovim`).  It defines the module and its commands; the
-- server is registered by require('golsp_leaks').setup({...}), or here when the variable
-- vim.g.golsp_leaks (the setup() options, {} for the defaults) is set before startup.
if vim.g.loaded_golsp_leaks then
  return
end
vim.g.loaded_golsp_leaks = true
local golsp_leaks = require('golsp_leaks')
if type(vim.g.golsp_leaks) == 'table' then
  golsp_leaks.setup(vim.g.golsp_leaks)
end
