"""Staff pages for members under /console/members/. Each part owns its own URL module."""

from gonghui.members.import_urls import urlpatterns as import_urlpatterns
from gonghui.members.staff_urls import urlpatterns as staff_urlpatterns

app_name = "members"
urlpatterns = staff_urlpatterns + import_urlpatterns
