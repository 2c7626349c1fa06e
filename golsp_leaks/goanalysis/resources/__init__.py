"""Layer 6 — what the resource rules share: following one acquisition to its exits, and its quick fix."""
