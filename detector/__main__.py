"""``python -m detector`` runs the ``fieldwarden`` command line."""

from detector.cli import main

if __name__ == "__main__":
    main()
