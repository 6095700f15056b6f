"""``python -m bench`` (what ``accelerate launch -m bench run SUITE`` starts on every process)."""

import sys

from bench.cli.main import main

sys.exit(main())
