"""A suite file: reading it safely, applying --set overrides, and resolving each scenario (no torch, no store)."""
