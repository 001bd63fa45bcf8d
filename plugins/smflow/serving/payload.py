"""A request body that cannot be decoded as its Content-Type says: the model server's 400, not the model's 500.

Kept apart from the handler contract so every decoder (the script containers' defaults, the XGBoost
algorithm's) raises the same error, and the server maps it to one status.
"""

from __future__ import annotations

from smflow.errors import SmflowError


class MalformedPayloadError(SmflowError, ValueError):
    """Bad CSV, JSON or NPY in a request body (HTTP 400). Raised by the built-in decoders only: a user's
    `input_fn` failing is the model's error (500), as SageMaker's containers answer it."""

    status_code = 400

    def __init__(self, content_type: str, detail: str):
        kind = (content_type or "").split(";", 1)[0].strip().lower() or "request"
        super().__init__(f"malformed {kind} payload: {detail}")
        self.content_type = content_type
