"""Deterministic SageMaker names: the same (dag_id, run_id, task_id) always gives the same job name.

A retried task therefore finds the job its earlier try started instead of creating a duplicate, which the
Amazon provider's timestamp suffix cannot do. Names satisfy SageMaker's `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9]+")
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def slug(text: str) -> str:
    """Letters and digits joined by single hyphens (dots, underscores and runs of symbols become '-')."""
    return _NOT_ALLOWED.sub("-", text).strip("-")


def digest(*parts: str, length: int = 10) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:length]


def job_name(dag_id: str, run_id: str, task_id: str, attempt: int = 1, fingerprint: str = "") -> str:
    """`<pipeline>-<task>-<hash>`, ≤ 63 chars; attempt > 1 (a retry after a failed job) adds `-a<n>`.

    The hash covers the request's `fingerprint` too, so the same run and task sending a different request
    (after a YAML or code change, then Clear) gets a new name instead of the old job.
    """
    pipeline = dag_id.split("__", 1)[0]
    parts = (dag_id, run_id, task_id, fingerprint) if fingerprint else (dag_id, run_id, task_id)
    suffix = digest(*parts) + (f"-a{attempt}" if attempt > 1 else "")
    base = slug(f"{pipeline}-{task_id}")[: MAX_NAME - len(suffix) - 1].rstrip("-") or "smflow"
    return f"{base}-{suffix}"


def run_key(run_id: str) -> str:
    """A path-safe, collision-free folder name for one DAG run (run ids contain ':' and '+')."""
    return f"{slug(run_id)[:40]}-{digest(run_id, length=8)}"


def client_token(dag_id: str, run_id: str, task_id: str, fingerprint: str = "") -> str:
    """Idempotency token (≤ 36 chars) so a retried registration never creates a second version, while a
    registration of a different request (another model) in the same run does."""
    parts = (dag_id, run_id, task_id, fingerprint) if fingerprint else (dag_id, run_id, task_id)
    return digest(*parts, length=32)


def bounded_name(text: str, limit: int = MAX_NAME) -> str:
    """`slug(text)`, cut to `limit` with a hash of the full text so two long names never collide."""
    name = slug(text)
    if len(name) <= limit:
        return name
    return f"{name[: limit - 11].rstrip('-')}-{digest(text)}"
