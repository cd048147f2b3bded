"""Placeholder until this area is built."""

from django.http import HttpResponse


def incident_detail(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def incident_export(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def incident_list(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)
