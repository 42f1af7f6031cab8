from django.urls import path

from gonghui.members import views

app_name = "mobile"
urlpatterns = [
    path("", views.member_list, name="home"),
    path("login/", views.member_list, name="login"),
]
