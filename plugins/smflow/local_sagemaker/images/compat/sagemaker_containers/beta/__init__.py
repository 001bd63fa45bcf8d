"""`sagemaker_containers.beta`: where the framework containers' helpers live."""
