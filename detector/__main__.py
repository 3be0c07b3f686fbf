"""``python -m detector`` runs the ``fieldwarden`` command line."""

from detector.cli import console_main

if __name__ == "__main__":
    console_main()
