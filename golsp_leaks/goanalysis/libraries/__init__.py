"""Layer 4 — library models: what the standard library, the database libraries and the web frameworks do."""
