from django.urls import path

from gonghui.console import views

app_name = "console"
urlpatterns = [
    path("", views.home, name="home"),
    path("orgs/", views.orgs, name="orgs"),
    path("orgs/<int:pk>/", views.org_detail, name="org_detail"),
    path("orgs/<int:pk>/new/", views.org_new, name="org_new"),
    path("orgs/<int:pk>/edit/", views.org_edit, name="org_edit"),
    path("orgs/<int:pk>/move/", views.org_move_view, name="org_move"),
    path("orgs/<int:pk>/dissolve/", views.org_dissolve_view, name="org_dissolve"),
    path("orgs/<int:pk>/join-qr/", views.org_join_qr, name="org_join_qr"),
    path("orgs/<int:pk>/join-qr.png", views.org_join_qr_png, name="org_join_qr_png"),
    path("orgs/<int:pk>/join-qr/rotate/", views.org_join_qr_rotate, name="org_join_qr_rotate"),
    path("audit/", views.audit, name="audit"),
]
