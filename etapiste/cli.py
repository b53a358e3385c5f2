"""The ``etapiste`` command: the server's commands and the booth's, in one program."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from document_camera import cli as doccam_cli
from endpoint_agent import cli as booth_cli
from signaling import cli as server_cli
from stats import cli as stats_cli


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``etapiste`` command."""
    parser = argparse.ArgumentParser(prog="etapiste", description="Etäpiste remote service")
    commands = parser.add_subparsers(dest="command", required=True)
    server_cli.add_commands(commands)
    booth_cli.add_commands(commands)
    doccam_cli.add_commands(commands)
    stats_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``etapiste`` command."""
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
