"""SageMaker emulated on this machine: the job, model and model-registry API families, an S3-like object
store, and the container contracts jobs run under. It knows neither Airflow nor YAML; `smflow.executors.local`
adapts it to the executor protocol.

Kept import-free on purpose: the detached job runner imports this package, and its start-up time is part of
every local job's overhead. Use `smflow.local_sagemaker.service.LocalSageMaker`.
"""
