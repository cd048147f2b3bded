"""Placeholder until this area is built."""

from django.http import HttpResponse


def event_create(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def event_delete(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def event_edit(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def paste_notes(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def timeline_editor(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)
