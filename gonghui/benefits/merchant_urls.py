from django.urls import path

from gonghui.benefits import merchant_views

app_name = "merchant"
urlpatterns = [
    path("", merchant_views.redeem, name="redeem"),
    path("redemptions/", merchant_views.redemption_list, name="redemptions"),
    path("redemptions/<int:pk>/", merchant_views.redemption_detail, name="redemption"),
    path(
        "redemptions/<int:pk>/reverse/",
        merchant_views.redemption_reverse_view,
        name="reverse",
    ),
    path("session/", merchant_views.session_alive, name="session"),
    path("settlement/", merchant_views.settlement, name="settlement"),
    path("settlement/template.xlsx", merchant_views.register_template, name="register_template"),
    path(
        "settlement/<int:pk>/stores/<int:store>/upload/",
        merchant_views.settlement_upload_view,
        name="settlement_upload",
    ),
]
