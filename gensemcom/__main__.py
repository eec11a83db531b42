import sys

from gensemcom.cli import main

sys.exit(main())
