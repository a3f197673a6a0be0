"""``python -m tradeterm.cli``: the ``tradeterm`` command."""

import sys

from tradeterm.cli.main import main

sys.exit(main())
