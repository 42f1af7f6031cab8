from django.urls import path

from gonghui.members import views

urlpatterns = [
    path("", views.member_list, name="list"),
    path("new/", views.member_create, name="create"),
    path("<int:pk>/", views.member_detail, name="detail"),
    path("<int:pk>/edit/", views.member_edit, name="edit"),
    path("<int:pk>/transfer/", views.member_transfer, name="transfer"),
    path("<int:pk>/leave/", views.member_leave, name="leave"),
    path("<int:pk>/rejoin/", views.member_rejoin, name="rejoin"),
    path("<int:pk>/card/", views.member_card, name="card"),
    path("<int:pk>/reveal/", views.member_reveal, name="reveal"),
    path("join-applications/", views.join_applications, name="join_applications"),
    path(
        "join-applications/<int:pk>/decide/",
        views.join_application_decide,
        name="join_application_decide",
    ),
]
