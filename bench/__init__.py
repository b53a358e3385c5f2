"""Benchmarks: each prints one JSON object and compares with a baseline run alongside."""

from __future__ import annotations

from collections.abc import Sequence


def run_bench(name: str, argv: Sequence[str]) -> int:
    """Run the named benchmark with its own arguments."""
    if name == "signaling":
        from .signaling import main

        return main(argv)
    if name == "doccam":
        from .doccam import main as doccam_main

        return doccam_main(argv)
    if name == "doccam-still":
        from .doccam_still import main as still_main

        return still_main(argv)
    if name == "interpreting":
        from .interpreting import main as interpreting_main

        return interpreting_main(argv)
    if name == "stats":
        from .stats import main as stats_main

        return stats_main(argv)
    raise ValueError(f"unknown benchmark {name!r}")
