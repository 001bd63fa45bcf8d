"""Image environments: a local job runs in a Python environment that matches its image's framework version.

SageMaker runs a job in the image its request names; the local executor cannot pull images, so it builds,
with uv, a virtual environment holding the packages that image pins (`table.py`), on this machine's Python,
and runs the job's code there. `uri.py` reads (framework, version) from an image URI, `plan.py` turns a
table entry into what to install on this Python (and which versions must differ from the image's),
`build.py` builds and caches environments (kill- and concurrency-safe), and `job.py` chooses the
environment for one job. `SMFLOW_IMAGE_ENVIRONMENTS=off` keeps every job in smflow's own environment.
"""
