import sys

from cunet.cli import main

sys.exit(main())
