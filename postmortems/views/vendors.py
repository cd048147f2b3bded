"""Placeholder until this area is built."""

from django.http import HttpResponse


def vendor_create(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def vendor_detail(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)


def vendor_list(request, *args, **kwargs):
    return HttpResponse("not built yet", status=501)
