"""Staff pages for campaigns, settlement and figures under /console/benefits/ (namespace ``benefits_console``)."""

from django.urls import path

from gonghui.benefits import console_views as v

app_name = "benefits_console"
urlpatterns = [
    path("", v.campaign_list, name="list"),
    path("new/", v.campaign_new, name="new"),
    path("<int:pk>/", v.campaign_detail, name="detail"),
    path("<int:pk>/edit/", v.campaign_edit, name="edit"),
    path("<int:pk>/dashboard/", v.campaign_dashboard, name="dashboard"),
    path("<int:pk>/dashboard/figures.xlsx", v.campaign_dashboard_export, name="dashboard_export"),
    path("<int:pk>/schedule/", v.campaign_schedule_view, name="schedule"),
    path("<int:pk>/unschedule/", v.campaign_unschedule_view, name="unschedule"),
    path("<int:pk>/cancel/", v.campaign_cancel_view, name="cancel"),
    path("<int:pk>/close/", v.campaign_close_view, name="close"),
    path("<int:pk>/lottery/seed/", v.lottery_seed_view, name="seed"),
    path("<int:pk>/lottery/draw/", v.lottery_draw_view, name="draw"),
    path("<int:pk>/settlement/", v.settlement_overview, name="settlement"),
    path("<int:pk>/settlement/template.xlsx", v.register_template, name="register_template"),
    path(
        "<int:pk>/settlement/stores/<int:store>/upload/",
        v.settlement_upload_view,
        name="settlement_upload",
    ),
    path("<int:pk>/notice/publish/", v.notice_publish_view, name="notice_publish"),
    path("<int:pk>/notice/", v.notice_objections, name="objections"),
    path("<int:pk>/notice/close/", v.notice_close_view, name="notice_close"),
    path("settlements/<int:pk>/", v.settlement_detail, name="settlement_detail"),
    path("settlements/<int:pk>/report.xlsx", v.settlement_report, name="settlement_report"),
    path("settlements/<int:pk>/files/<str:kind>/", v.settlement_file, name="settlement_file"),
    path("settlements/<int:pk>/approve/", v.settlement_approve_view, name="settlement_approve"),
    path("objections/<int:pk>/resolve/", v.objection_resolve_view, name="objection_resolve"),
]
