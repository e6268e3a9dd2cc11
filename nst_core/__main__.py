"""`python -m nst_core` is the `nst` command (the pipeline runs it this way)."""

import sys

from .cli import main

sys.exit(main())
