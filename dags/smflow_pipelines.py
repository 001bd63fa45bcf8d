"""Airflow parses this file: it builds one DAG per smflow pipeline spec under include/pipelines/.

Invalid specs show up as an import error of this file (with file:line:col lines); valid ones still load.
"""

from smflow.dags.loader import register_dags

register_dags(globals())
