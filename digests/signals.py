"""What the digest's services announce, so that they need not know the tasks that act on it.

Tasks import services, never the reverse: a service that wants work queued sends a
signal, and ``digests.tasks`` (connected when the app is ready) queues the task.
"""

from django.dispatch import Signal

# A confirmation email should go out once the current transaction commits;
# sent with ``subscription_id``.
confirmation_requested = Signal()
