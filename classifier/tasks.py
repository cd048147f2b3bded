from celery import shared_task

from classifier import services


@shared_task
def retrain_classifier() -> str:
    model = services.retrain()
    if model is None:
        return "nothing labelled to learn from yet"
    services.prune_models()
    outcome = services.classify_backlog()
    return f"model v{model.version} from {model.trained_on} postmortems; {outcome}"


@shared_task
def classify_batch(batch_id: int) -> str:
    return str(services.classify_batch(batch_id))


@shared_task
def classify_backlog() -> str:
    return str(services.classify_backlog())
