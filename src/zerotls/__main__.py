"""``python -m zerotls``: the same as the ``zerotls`` command."""

import sys

from zerotls.cli import main

sys.exit(main())
