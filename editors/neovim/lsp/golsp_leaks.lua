-- Neovim 0.11+: with editors/neovim on 'runtimepath', `vim.lsp.enable('golsp_leaks')` is enough.
-- Override any field with vim.lsp.config('golsp_leaks', { settings = { golspLeaks = {...} } }).
return {
  cmd = { 'golsp-leaks', 'serve' },
  filetypes = { 'go' },
  root_markers = { 'go.work', 'go.mod', '.git' },
  -- The server's settings: rules, severity, exclude, debounceMs.
  settings = { golspLeaks = vim.empty_dict() },
  init_options = vim.empty_dict(),
}
