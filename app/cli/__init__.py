"""The ``ferry`` command line (see :mod:`app.cli.main`)."""
from app.cli.main import main

__all__ = ["main"]
