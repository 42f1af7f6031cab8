from django.urls import path

from gonghui.members import views

urlpatterns = [
    path("import/", views.member_list, name="import"),
]
