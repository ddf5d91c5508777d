"""`python -m fakes.photos`: see `fakes.photos.cli`."""

from fakes.photos.cli import main

raise SystemExit(main())
