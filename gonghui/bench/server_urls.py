"""The bench server's URLs: the platform's, and the floor view (``gonghui.bench.floor``)."""

from django.urls import path

from gonghui.bench.floor import PATH, floor
from gonghui.urls import urlpatterns as platform_urlpatterns

urlpatterns = [path(PATH.lstrip("/"), floor), *platform_urlpatterns]
