from celery import shared_task

from classifier import services


@shared_task
def retrain_classifier() -> str:
    model = services.retrain()
    if model is None:
        return "nothing labelled to learn from yet"
    services.prune_models()
    ids = services.backlog_ids()
    # One task per part, so that every worker process takes a share of the backlog.
    for start in range(0, len(ids), services.PARALLEL_CHUNK):
        classify_ids.delay(ids[start : start + services.PARALLEL_CHUNK])
    return f"model v{model.version} from {model.trained_on} postmortems; {len(ids)} to classify"


@shared_task
def classify_ids(ids: list[int]) -> str:
    return str(services.classify(ids))


@shared_task
def classify_batch(batch_id: int) -> str:
    return str(services.classify_batch(batch_id))
