"""`python -m faults`: see faults/run.py and docs/faults.md."""

import sys

from faults.run import main

sys.exit(main())
