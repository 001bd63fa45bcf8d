"""SageMaker's job API family on this machine: durable records, the API handlers, the detached runner, the
sandbox and the supervisor that records an ending for a job whose runner died.

Kept import-free: the detached runner imports this package, and its start-up time is part of every job.
"""
