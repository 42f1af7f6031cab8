from django.urls import path

from gonghui.benefits import member_views

app_name = "benefits_m"
urlpatterns = [
    path("", member_views.campaign_list, name="campaigns"),
    path("campaigns/<int:pk>/", member_views.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/grab/", member_views.campaign_grab, name="grab"),
    path("campaigns/<int:pk>/register/", member_views.campaign_register, name="register"),
    path("vouchers/", member_views.voucher_list, name="vouchers"),
    path("vouchers/<int:pk>/", member_views.voucher_detail, name="voucher"),
]
