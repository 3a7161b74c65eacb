import sys

from ringscope.cli.main import main

sys.exit(main())
