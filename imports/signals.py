"""What the import services announce, so that they need not know the tasks that act on it.

Tasks import services, never the reverse: a service that wants work queued sends a
signal, and ``imports.tasks`` (connected when the app is ready) queues the task.
"""

from django.dispatch import Signal

# A stored import job should run on a worker once the current transaction commits;
# sent with ``job_id``.
import_queued = Signal()

# An import wrote these incidents (created or updated; sent with ``slugs`` and the
# ``report`` being built, which receivers may annotate). Sent inside the import's
# transaction when there is one: receivers act on commit.
incidents_imported = Signal()
