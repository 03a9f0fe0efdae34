"""What a command says while its heavy libraries load.

Every command parses and checks its arguments with light modules first (``validation``, ``settings``,
``options``: yaml and the standard library), so ``--help`` and a mistake answer at once; importing torch and
RecBole then takes several seconds, which :func:`loading` announces on stderr.
"""

import sys

_announced = set()


def loading(what="RecBole and torch"):
    """Print ``loading <what> ...`` on stderr once per process, before a wait of several seconds."""
    if what not in _announced:
        _announced.add(what)
        print(f"loading {what} ...", file=sys.stderr, flush=True)
