"""A stand-in for `sagemaker-containers`, which the SageMaker scikit-learn and XGBoost images ship.

Inference scripts of the public examples import `sagemaker_containers.beta.framework` (`worker.Response`,
`encoders`, `content_types`, ...). The last release, 2.8.6.post2, no longer imports on Python 3.10+
(`collections.Mapping`), and this machine runs 3.11, so the parts those scripts use are provided here with
the behaviour the package documents (https://github.com/aws/sagemaker-containers): the same names, MIME types,
encodings and Response defaults.
"""

__version__ = "2.8.6.post2+smflow"
