"""Layer 0 — syntax: parsing Go with tree-sitter, navigating the tree, imports, and text edits on it."""
