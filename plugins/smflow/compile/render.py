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

# Stand-ins rendered where the name and the idempotency token go while the request's fingerprint is
# computed; `RunTemplateContext.finalise` swaps them for the real values (letters and hyphens only, so any
# Jinja filter a template applies keeps them intact).
NAME_PLACEHOLDER = "smflow-job-name-pending-fingerprint"
TOKEN_PLACEHOLDER = "smflow-client-token-pending-fingerprint"


@dataclass
class RunTemplateContext:
    """Per-task values for `{{ smflow.* }}`: this task's job name, the run's folder, upstream outputs.

    `fingerprint` is a digest of the request this try sends; it is part of the job name and the client
    token, so a changed request (a YAML edit, new upstream artifacts, changed code) gets a new job while a
    retry of the same request finds its earlier one. `None` renders placeholders (see `finalise`).
    """

    dag_id: str
    run_id: str
    task_id: str
    attempt: int = 1
    output_lookup: Callable[[str, str], str] | None = None
    fingerprint: str | None = ""

    @property
    def job_name(self) -> str:
        if self.fingerprint is None:
            return NAME_PLACEHOLDER
        return naming.job_name(self.dag_id, self.run_id, self.task_id, self.attempt, self.fingerprint)

    @property
    def run_key(self) -> str:
        return naming.run_key(self.run_id)

    @property
    def client_token(self) -> str:
        if self.fingerprint is None:
            return TOKEN_PLACEHOLDER
        return naming.client_token(self.dag_id, self.run_id, self.task_id, self.fingerprint)

    def finalise(self, value: Any) -> Any:
        """`value` rendered with placeholders → the same with this context's real name and token."""
        assert self.fingerprint is not None
        return replace_strings(value, {NAME_PLACEHOLDER: self.job_name, TOKEN_PLACEHOLDER: self.client_token})

    def output(self, task_id: str, name: str) -> str:
        if self.output_lookup is None:
            raise LookupError(f"no upstream outputs available while rendering {self.task_id}")
        return self.output_lookup(task_id, name)


def replace_strings(value: Any, mapping: dict[str, str]) -> Any:
    """Substitute substrings in every string of a nested structure (dict keys included)."""
    if isinstance(value, str):
        for old, new in mapping.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {replace_strings(k, mapping): replace_strings(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_strings(v, mapping) for v in value]
    return value


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
