"""SageMaker's built-in algorithms as this machine can run them: which images are algorithms, and the
XGBoost algorithm mode (hyperparameter rules, data channels, training program).

Import-free on purpose, like the package above it: the training program runs in an image's environment
(numpy, xgboost, no pydantic or Airflow) and the spec imports the pure rule modules at validate time.
"""
