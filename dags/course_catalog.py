"""Course catalogue (owner: ml-platform), daily and cheap when nothing changed.

For every course whose uploaded content (title, description, syllabus, format, level,
instructor prerequisites) is new or changed since its last inference, the AI Metadata Agent infers
skill tags (taxonomy only), a difficulty score (1-5) and prerequisites into
``raw.course_metadata_inferred`` with provenance (llm or rules, model, prompt version); then the
course's Q&A chunks are re-embedded into ``features.course_chunks`` (the embedded vector index).
Change detection is by content hash, so reruns and backfills write nothing new. With
``LEARNREC_LLM_PROVIDER=rules`` (the default), or while the LLM is unavailable, the agent's
rule-based inference is stored instead.
"""

import pendulum
from airflow.sdk import dag, task

from learnrec.dag_defaults import default_args


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args("ml-platform"),
    tags=["catalog", "agents"],
    doc_md=__doc__,
)
def course_catalog():
    @task
    def infer_course_metadata() -> dict:
        from ml.agents.tasks import run_metadata_agent

        return run_metadata_agent()

    @task
    def index_course_chunks() -> dict:
        from ml.agents.tasks import run_chunk_index

        return run_chunk_index()

    infer_course_metadata() >> index_course_chunks()


course_catalog()
