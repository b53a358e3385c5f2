"""The browser call client: plain ES modules shared by the kiosk and the staff consoles."""

from pathlib import Path

DIRECTORY = Path(__file__).parent
