"""Staff web UIs: expert, interpreter, supervisor and admin consoles (served by the node)."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
