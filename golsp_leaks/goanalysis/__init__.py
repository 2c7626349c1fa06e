"""Go-analysis helpers shared by the rules: parsing, syntax navigation, imports,
names and their uses, and paths through a function body to its exits.

Nothing here knows about rules, LSP or output formats.
"""
