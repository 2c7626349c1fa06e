"""Layer 1 — names: which declaration each identifier refers to (scopes and bindings)."""
