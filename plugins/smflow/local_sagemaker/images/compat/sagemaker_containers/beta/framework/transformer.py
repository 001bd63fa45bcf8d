"""`transformer.Transformer`: the model_fn → input_fn → predict_fn → output_fn chain a serving worker runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Transformer:
    def __init__(self, model_fn: Callable[[str], Any], input_fn: Callable[[Any, str], Any],
                 predict_fn: Callable[[Any, Any], Any], output_fn: Callable[[Any, str], Any]):
        self._model_fn, self._input_fn = model_fn, input_fn
        self._predict_fn, self._output_fn = predict_fn, output_fn
        self._model: Any = None

    def initialize(self, model_dir: str = "/opt/ml/model") -> None:
        self._model = self._model_fn(model_dir)

    def transform(self, body: Any, content_type: str, accept: str) -> Any:
        if self._model is None:
            self.initialize()
        return self._output_fn(self._predict_fn(self._input_fn(body, content_type), self._model), accept)
