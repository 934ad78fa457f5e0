"""``python -m snn_zoo`` runs the ``snn-zoo`` command line."""

import sys

from snn_zoo.cli import main

if __name__ == "__main__":
    sys.exit(main())
