"""Layer 2 — control flow: the graph of each function and function literal, and the loops in it."""
