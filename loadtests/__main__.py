import sys

from loadtests.runner import main

sys.exit(main())
