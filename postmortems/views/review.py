"""Placeholder until this area is built."""

from django.http import HttpResponse


def review_action(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)
