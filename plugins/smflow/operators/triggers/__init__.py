"""Triggers smflow's deferrable operators hand to Airflow's triggerer (asyncio; never block its event loop)."""
