"""Subcommands of the ``learnrec`` CLI; see :mod:`learnrec.cli`."""
