"""learnrec: the platform package (settings, contracts, adapters, synthetic world, CLI).

Imported by dags/, spark_jobs/, ml/ and exports/; imports none of them. Importing it does no
work: no settings are read, no connections opened, no folders created.
"""

__version__ = "0.1.0"
