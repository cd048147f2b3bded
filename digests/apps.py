from django.apps import AppConfig


class DigestsConfig(AppConfig):
    name = "digests"
    verbose_name = "Weekly digests"

    def ready(self) -> None:
        from digests import tasks  # noqa: F401  connects the receivers that queue tasks
