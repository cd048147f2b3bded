"""Background work on postmortems: taking the published counts the pages show."""

from celery import shared_task

from postmortems import tallies


@shared_task
def take_counts() -> str:
    snapshot = tallies.take_counts()
    if snapshot is None:
        return "another process was counting"
    return f"counted in {snapshot.seconds:.1f} s"
