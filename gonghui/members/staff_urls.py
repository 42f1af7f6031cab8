from django.urls import path

from gonghui.members import views

urlpatterns = [
    path("", views.member_list, name="list"),
    path("join-applications/", views.member_list, name="join_applications"),
]
