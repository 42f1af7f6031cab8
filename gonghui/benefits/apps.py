from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BenefitsConfig(AppConfig):
    name = "gonghui.benefits"
    label = "benefits"
    verbose_name = _("Member benefits")

    def ready(self) -> None:
        # Modules add their own capabilities to the role table (see accounts.roles).
        from gonghui.accounts.roles import ROLE_CAPABILITIES, Role
        from gonghui.benefits import checks  # noqa: F401 - registers the deployment checks
        from gonghui.benefits.models import MANAGE_BENEFITS

        ROLE_CAPABILITIES[Role.ADMIN].add(MANAGE_BENEFITS)
        ROLE_CAPABILITIES[Role.OFFICER].add(MANAGE_BENEFITS)
