from django.urls import path

from gonghui.ledger import console_views as v

app_name = "ledger_console"

urlpatterns = [
    path("", v.accounts, name="accounts"),
    path("accounts/<int:pk>/", v.account, name="account"),
    path("transactions/<int:pk>/", v.transaction, name="transaction"),
]
