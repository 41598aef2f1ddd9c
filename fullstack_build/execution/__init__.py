"""How commands run: the one runner every external program goes through (echo, dry run,
masking, retry of transient faults, pseudo-terminals, background daemons), the terminal and
CI-aware output, Ctrl-C, per-platform parallelism, locks, and the table of programs run."""
