from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    name = "classifier"
    verbose_name = "Classification suggestions"

    def ready(self) -> None:
        from classifier import signals  # noqa: F401  (retrains and classifies after changes)
