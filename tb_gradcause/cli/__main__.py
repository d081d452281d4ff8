"""`python -m tb_gradcause.cli`, the same as the `tb-gradcause` command."""

import sys

from tb_gradcause.cli import main

sys.exit(main())
