"""Django Unfold settings for the staff admin (a modern theme, zh-hans, assets served locally)."""

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

UNFOLD = {
    "SITE_TITLE": _("gonghui union platform"),
    "SITE_HEADER": _("gonghui"),
    "SITE_SYMBOL": "groups",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": _("Workspace"),
                "items": [
                    {
                        "title": _("Console"),
                        "icon": "dashboard",
                        "link": reverse_lazy("console:home"),
                    },
                    {
                        "title": _("Member import"),
                        "icon": "upload_file",
                        "link": reverse_lazy("members:import"),
                    },
                ],
            },
        ],
    },
}
