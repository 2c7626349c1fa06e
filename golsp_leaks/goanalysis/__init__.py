"""The analysis of Go code, in layers; each imports only the layers below it (tests/test_layers.py):

``syntax``     parsing, tree navigation, imports, text edits on the tree;
``names``      scopes and bindings: the declaration each identifier refers to;
``cfg``        the control-flow graph of each function and function literal;
``dataflow``   the ownership engine and the channel counter, run over the graph;
``libraries``  models of the standard library, database libraries and web frameworks;
``summaries``  facts about each function of a package, and the context a file is checked in;
``resources``  what the resource rules share: one acquisition followed to its exits, its fix.

Nothing here knows about rules, LSP or output formats.
"""
