"""``python -m orgo_async.cli``: same as the ``orgo-async`` command."""

from __future__ import annotations

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
