"""`python -m rt_samplernn` runs the command line (also under torchrun)."""

from rt_samplernn.cli import main

raise SystemExit(main())
