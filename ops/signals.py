from celery.signals import worker_ready


@worker_ready.connect
def report_ready_worker(sender, **kwargs):
    # Queue a heartbeat as soon as a worker is up, rather than on beat's first
    # tick a minute later, so /health/ is truthful right after start-up.
    from ops.tasks import record_heartbeat

    record_heartbeat.delay()
