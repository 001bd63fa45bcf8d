"""`worker.Response`: the HTTP response an `output_fn` returns — a werkzeug Response whose mimetype defaults
to JSON, as the framework containers' Flask worker makes it."""

from __future__ import annotations

import http.client
from typing import Any

from werkzeug.wrappers import Response as _WerkzeugResponse

from . import content_types


class Response(_WerkzeugResponse):
    default_mimetype = content_types.JSON

    def __init__(self, response: Any = None, status: int = http.client.OK, headers: Any = None,
                 mimetype: str | None = None, content_type: str | None = None, accept: str | None = None):
        super().__init__(response=response, status=status, headers=headers,
                         mimetype=accept if accept and not mimetype else mimetype, content_type=content_type)
