"""`python -m conndebug` runs the same CLI as the `conndebug` console script."""

from conndebug.cli import main

raise SystemExit(main())
