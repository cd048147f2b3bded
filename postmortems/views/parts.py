"""Placeholder until this area is built."""

from django.http import HttpResponse


def action_item_create(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def action_item_delete(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def action_item_edit(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def factor_create(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def factor_delete(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def factor_edit(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def source_create(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def source_delete(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)
