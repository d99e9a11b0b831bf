"""The SparkSession every feature job runs in, chosen by settings (never by editing code).

* default: ``local[*]`` in the calling process (``LEARNREC_SPARK_MASTER``), the embedded mode;
* a cluster: ``LEARNREC_SPARK_MASTER=spark://host:7077`` (or ``yarn``, ``k8s://...``), or the job's
  ``main()`` launched by ``spark-submit`` (the submitted master wins, the builder only fills gaps);
* Spark Connect: ``LEARNREC_SPARK_CONNECT_URL=sc://host:15002``; the jobs use only the DataFrame
  API, so the same code runs over Connect.

Timestamps are UTC everywhere: event days are UTC days (the lake's ``event_date``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from learnrec.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

APP_NAME = "learnrec-features"

#: Settings every session gets, whatever the master.
BASE_CONF = {
    "spark.sql.session.timeZone": "UTC",
    # Feature tables are small per partition; adaptive execution coalesces shuffles to fit.
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    # Overwrite only the partitions a run writes (a run date, a reprocessed event day).
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.compression.codec": "zstd",
}
#: Extra settings for the in-process local master: few shuffle partitions, no UI.
LOCAL_CONF = {
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def build_spark(settings: Settings, app_name: str = APP_NAME) -> SparkSession:
    """Get (or create) the session the settings describe."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if settings.spark_connect_url:
        builder = builder.remote(settings.spark_connect_url)
        for key, value in BASE_CONF.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    conf = dict(BASE_CONF)
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        # Started by spark-submit: the JVM already runs with the submitted master and memory.
        for key, value in conf.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    if settings.spark_master.startswith("local"):
        conf |= LOCAL_CONF
        # The driver is the executor in local mode; its memory is fixed at JVM start.
        conf["spark.driver.memory"] = settings.spark_driver_memory
    builder = builder.master(settings.spark_master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
