# Placeholder views replaced by the console work (see issue 2 §5).
from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


orgs = audit = home
