from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "imports"
    verbose_name = "Status-page imports"

    def ready(self) -> None:
        from imports import tasks  # noqa: F401  connects the receivers that queue tasks
