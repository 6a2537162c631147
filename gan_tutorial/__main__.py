"""``python -m gan_tutorial``: see ``gan_tutorial.course``."""
import sys

from .course import main

sys.exit(main())
