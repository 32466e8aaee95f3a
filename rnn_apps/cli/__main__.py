"""`python -m rnn_apps.cli`: the `rnn-apps` command line."""

import sys

from rnn_apps.cli import main

sys.exit(main())
