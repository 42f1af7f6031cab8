from django.urls import path

from gonghui.members import views

app_name = "members"
urlpatterns = [
    path("", views.member_list, name="list"),
    path("import/", views.member_list, name="import"),
    path("join-applications/", views.member_list, name="join_applications"),
]
