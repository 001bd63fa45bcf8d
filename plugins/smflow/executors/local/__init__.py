"""The `local` executor: SageMaker jobs, models and the model registry emulated on this machine.

Kept import-free on purpose: the detached job runner imports this package, and its start-up time is part
of every local job's overhead. Use `smflow.executors.local.executor.LocalExecutor`.
"""
