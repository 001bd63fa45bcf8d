"""smflow: one YAML file per ML project → Airflow 3 DAGs whose tasks run SageMaker jobs."""

__version__ = "0.1.0"
