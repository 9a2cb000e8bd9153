"""Evaluation: metrics (pure functions), protocols (crops, caps, scaling), the evaluate library."""
