"""Run the ``etapiste`` command with ``python -m etapiste``."""

import sys

from .cli import main

sys.exit(main())
