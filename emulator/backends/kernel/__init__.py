"""The real kernel through bpf(2): the oracle for verdicts and end states (never attaches)."""
