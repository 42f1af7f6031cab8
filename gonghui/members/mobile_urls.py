from django.urls import path

from gonghui.members import mobile_views

app_name = "mobile"
urlpatterns = [
    path("", mobile_views.home, name="home"),
    path("login/", mobile_views.login, name="login"),
    path("logout/", mobile_views.logout, name="logout"),
    path("join/<str:token>/", mobile_views.join, name="join"),
    path("join/<str:token>/submitted/", mobile_views.join_done, name="join_done"),
]
