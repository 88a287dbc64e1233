"""``python -m heaprig``: the same as the ``heaprig`` command."""

import sys

from .cli import main

sys.exit(main())
