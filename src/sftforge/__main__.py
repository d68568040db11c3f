"""``python -m sftforge``: the same as the ``sftforge`` command."""

import sys

from sftforge.cli.launch import main

sys.exit(main())
