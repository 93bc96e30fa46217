"""`python -m slmkit ...` is `slm ...`; under torchrun: `torchrun --nproc_per_node=2 -m slmkit -- pretrain --run R`."""

import sys

from slmkit.cli import main

sys.exit(main())
