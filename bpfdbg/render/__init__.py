"""Text renderings of session state and command results (no I/O: strings in, strings out)."""
