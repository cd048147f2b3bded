from django.http import JsonResponse

from ops.services import health_report


def health(request):
    """Liveness for load balancers: 200 while the database answers."""
    return JsonResponse(health_report())
