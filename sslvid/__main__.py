"""``python -m sslvid``: see ``sslvid.cli``."""

import sys

from sslvid.cli import main

sys.exit(main())
