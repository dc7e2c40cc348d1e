from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Simulated traffic for demo sites: history, the live trickle and `seed_demo`."""

    name = "demo"
