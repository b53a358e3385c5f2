"""Staff web UIs: expert, interpreter, supervisor and admin consoles."""
