from django.urls import path

from gonghui.members import import_views

urlpatterns = [
    path("import/", import_views.import_upload, name="import"),
    path("import/template.xlsx", import_views.import_template, name="import_template"),
    path("import/<int:pk>/", import_views.import_job, name="import_job"),
    path("import/<int:pk>/errors.xlsx", import_views.import_job_errors, name="import_job_errors"),
    path("export/", import_views.export, name="export"),
    path("export/unmasked/", import_views.export_unmasked, name="export_unmasked"),
]
