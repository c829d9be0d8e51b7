"""The command line, ``python -m mortar_rdb.sequence`` or ``mortar-sequence``:
its commands (``main``), its messages and its terminal handling."""
