from django.urls import path

from gonghui.benefits import views

app_name = "benefits"

urlpatterns = [
    path("campaigns/<int:pk>/grab", views.grab, name="grab"),
    path("redeem", views.redeem, name="redeem"),
    path("ping", views.ping, name="ping"),
]
