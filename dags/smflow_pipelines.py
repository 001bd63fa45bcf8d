"""Airflow parses this file: it builds the DAGs of every *valid* smflow pipeline under include/pipelines/.

Invalid specs never appear here; `smflow_pipeline_errors.py` beside it reports them as its import error.
"""

from smflow.dags.loader import register_dags

register_dags(globals())
