"""Run the command line: ``python -m server ...``."""

import sys

from server.cli.main import main

sys.exit(main())
