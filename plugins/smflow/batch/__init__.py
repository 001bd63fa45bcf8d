"""Batch prediction without Airflow: which objects form a batch, and which batches a model version still owes.

`discovery` turns an object listing into batches with a content digest; `ledger` reads and writes the per-batch
manifests that make each batch predicted exactly once per model version. Operators and sensors call these.
"""
