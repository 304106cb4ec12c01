"""`python -m weatherctl` runs the command line."""

import sys

from weatherctl.main import main

sys.exit(main())
