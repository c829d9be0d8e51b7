"""``python -m mortar_rdb.sequence``: the command line, which lives in ``_cli``."""

import sys

from ._cli.main import main

__all__ = ['main']

if __name__ == '__main__':
    sys.exit(main())
