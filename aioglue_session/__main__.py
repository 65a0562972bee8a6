"""``python -m aioglue_session``: the command line."""

import sys

from .cli import main

sys.exit(main())
