"""PySpark feature jobs: each a pure ``DataFrame -> DataFrame`` core plus a ``main()`` for spark-submit."""
