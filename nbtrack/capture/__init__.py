"""Capture: turn the process (environment, git, files) and IPython's events (cells,
shell commands) into records handed to a run. Works without a kernel too."""
