"""tui: the Textual front end of bpfdbg. It renders one bpfdbg.Session and sends it command
lines; it holds no debugger logic (DESIGN.md). The application arrives with the TUI issue."""
