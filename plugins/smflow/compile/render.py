"""The `smflow` object templates see, and plain-Jinja rendering for use outside Airflow (CLI, tests).

Inside Airflow the operator puts a `RunTemplateContext` into the task context and Airflow's own templating
renders the request; outside it, `render_request` does the same with jinja2, so both paths agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2

from smflow.compile import naming


@dataclass
class RunTemplateContext:
    """Per-task values for `{{ smflow.* }}`: this task's job name, the run's folder, upstream outputs."""

    dag_id: str
    run_id: str
    task_id: str
    attempt: int = 1
    output_lookup: Callable[[str, str], str] | None = None

    @property
    def job_name(self) -> str:
        return naming.job_name(self.dag_id, self.run_id, self.task_id, self.attempt)

    @property
    def run_key(self) -> str:
        return naming.run_key(self.run_id)

    @property
    def client_token(self) -> str:
        return naming.client_token(self.dag_id, self.run_id, self.task_id)

    def output(self, task_id: str, name: str) -> str:
        if self.output_lookup is None:
            raise LookupError(f"no upstream outputs available while rendering {self.task_id}")
        return self.output_lookup(task_id, name)


_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


def render_value(value: Any, variables: dict[str, Any]) -> Any:
    """Render every string in a nested structure (dict keys included) with strict undefineds."""
    if isinstance(value, str):
        return _ENV.from_string(value).render(**variables) if "{{" in value else value
    if isinstance(value, dict):
        return {render_value(k, variables): render_value(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables) for v in value]
    return value
