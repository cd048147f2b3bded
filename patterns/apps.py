from django.apps import AppConfig


class PatternsConfig(AppConfig):
    name = "patterns"
    verbose_name = "Recurring patterns"

    def ready(self) -> None:
        from patterns import signals  # noqa: F401  (schedules refreshes after changes)
