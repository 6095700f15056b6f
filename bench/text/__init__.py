"""The text world's protocol (prompts from the original data, forced-length continuations) and its metrics.

The text task itself is `bench.tasks.text`, a plugin like the others."""
