"""Airflow plugin entry point (`airflow.plugins` → `smflow`): makes smflow's operators known to Airflow."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class SmflowPlugin(AirflowPlugin):
    name = "smflow"
