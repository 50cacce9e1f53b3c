import sys

from dbx_native.cli import main

sys.exit(main())
