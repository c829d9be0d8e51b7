"""The command line, ``python -m mortar_rdb.sequence`` or ``mortar-sequence``, one concern a module:

- :mod:`.main`: running a command, from connecting to the exit status;
- :mod:`.arguments`: the commands, their flags and the values they take;
- :mod:`.commands`: what each command does and prints;
- :mod:`.failures`: failures only the command line meets, made from their facts;
- :mod:`.messages`: the one line said for any error, rendered from its facts;
- :mod:`.terminal`: output written whole, closed descriptors, what it waits for, Ctrl-C.

Per-database facts (how waits are bounded and named, drivers and their
packages, database files) are in :mod:`.._dialects`.
"""
