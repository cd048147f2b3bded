"""Placeholder until this area is built."""

from django.http import HttpResponse


def incident_create(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def incident_edit(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def markdown_preview(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)
