#!/bin/bash
# smflow's processing launcher, the way the SageMaker Python SDK's FrameworkProcessor launches a script with
# its source_dir: unpack sourcedir.tar.gz, install requirements.txt when there is one, then run the command
# (e.g. `python3 preprocess.py --arg value`) given as this script's arguments.
# See https://sagemaker.readthedocs.io/en/stable/api/training/processing.html#sagemaker.processing.FrameworkProcessor
cd /opt/ml/processing/input/code/
tar -xzf sourcedir.tar.gz

# Exit on any error: SageMaker uses the exit code to mark the job failed.
set -e

if [[ -f 'requirements.txt' ]]; then
    python3 -m pip install -r requirements.txt
fi

exec "$@"
