"""``python -m detector`` runs the ``fieldwarden`` command line.

The garbage collector is off while the command line is imported, as ``console_main`` keeps it
off while the command's own module is: start-up allocates objects that are not garbage.
"""

import gc

gc.disable()

from detector.cli import console_main  # noqa: E402 - imported with the collector off

if __name__ == "__main__":
    console_main()
