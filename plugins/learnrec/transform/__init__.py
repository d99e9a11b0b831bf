"""Warehouse transformations: the dbt project (``dbt/``) run from Python with the platform's settings."""
