"""Airflow parses this file only to report invalid smflow pipeline specs.

It defines no DAG on purpose: its import error (every `file:line:col` line of every broken spec, shown
under "DAG Import Errors" in the UI) then hides nothing, while smflow_pipelines.py keeps the good ones.
"""

from smflow.dags.loader import report_pipeline_errors

report_pipeline_errors(__file__)
