"""The container contracts a local job runs under: processing, training, transform (and its data
processing), with one staging module for code, model and manifest fetching.

Kept import-free: the runner imports only the module of the job kind it runs.
"""
