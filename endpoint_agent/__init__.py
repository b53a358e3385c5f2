"""Booth side: the local agent that supervises the kiosk and owns the peripherals."""

from pathlib import Path

# The booth's page; the node also serves it to citizens at home (/guest/).
KIOSK_DIR = Path(__file__).parent / "kiosk"
