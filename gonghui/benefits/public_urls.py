"""Public pages (no sign-in) under /public/ (namespace ``public``): the index, notices, campaigns."""

from django.urls import path

from gonghui.benefits import public_views as v

app_name = "public"
urlpatterns = [
    path("", v.index, name="index"),
    path("notices/<int:pk>/", v.notice, name="notice"),
    path("campaigns/<int:pk>/", v.campaign, name="campaign"),
    path("campaigns/<int:pk>/registrations.json", v.registrations_json, name="registrations_json"),
]
