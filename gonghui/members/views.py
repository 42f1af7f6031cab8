# Placeholder views replaced by the members pages work.
from django.http import HttpRequest, HttpResponse


def member_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError
