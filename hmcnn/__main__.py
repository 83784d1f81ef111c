import sys

from hmcnn.cli import main

sys.exit(main())
