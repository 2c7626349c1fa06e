"""Layer 3 — dataflow: what happens to a value along the control-flow graph (the ownership engine, channels)."""
