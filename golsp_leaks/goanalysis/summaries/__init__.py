"""Layer 5 — package summaries: facts about every function of a package, and the context a file is checked in."""
