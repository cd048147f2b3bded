"""Placeholder until this area is built."""

from django.http import HttpResponse


def category_detail(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def change_type_detail(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def taxonomy(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)
