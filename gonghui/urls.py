from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import include, path

from gonghui.api import api


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


def home(request: HttpRequest) -> HttpResponse:
    if getattr(request, "member", None) is not None:
        return redirect("mobile:home")
    if request.user.is_authenticated:
        from gonghui.accounts.views import landing_url

        return redirect(landing_url(request.user))
    return redirect("console:home")


urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("gonghui.accounts.urls")),
    path("console/", include("gonghui.console.urls")),
    path("console/members/", include("gonghui.members.urls")),
    path("m/", include("gonghui.members.mobile_urls")),
    path("benefits/", include("gonghui.benefits.urls")),
    path("m/benefits/", include("gonghui.benefits.mobile_urls")),
    path("merchant/", include("gonghui.benefits.merchant_urls")),
    path("console/benefits/", include("gonghui.benefits.console_urls")),
    path("console/ledger/", include("gonghui.ledger.console_urls")),
    path("public/", include("gonghui.benefits.public_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]

handler400 = "gonghui.core.error_views.bad_request"
handler403 = "gonghui.core.error_views.forbidden"
handler404 = "gonghui.core.error_views.not_found"
handler500 = "gonghui.core.error_views.server_error"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
