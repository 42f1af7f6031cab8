"""The base of every registry in the Django admin: scoped to the staff member's subtree.

Django's model permissions are not used: what a staff member may do follows from its roles
(``user.can(Capability.X)``), what it may see from ``accounts.scoping.scoped``. Writes go through
the services: a ``ServiceForm`` calls its service while the form validates, so a refusal
(ApplicationError) comes back as an ordinary form error and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.filters import RelatedFieldListFilter
from django.db import router, transaction
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from unfold.admin import ModelAdmin, TabularInline

from gonghui.accounts.roles import Capability
from gonghui.accounts.scoping import scoped
from gonghui.core.errors import ApplicationError
from gonghui.orgs.models import Org


def staff_can(request: HttpRequest, capability: str | None) -> bool:
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    return capability is not None and bool(user.can(capability))  # type: ignore[union-attr]


def visible_orgs(request: HttpRequest) -> QuerySet[Org]:
    return scoped(Org.objects.all(), actor=request.user, org_field="").order_by("path")


class ScopedOrgListFilter(RelatedFieldListFilter):
    """An organisation filter that offers only organisations the user may see and that occur in
    the (already scoped) list; Django's own would list every organisation in the database."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[Any]:
        used = model_admin.get_queryset(request).values_list(f"{self.field_path}__pk", flat=True)
        return [(o.pk, str(o)) for o in visible_orgs(request).filter(pk__in=used)]


class ServiceForm(forms.ModelForm):
    """A model form whose ``run_service`` does the write; the admin's own save is a no-op."""

    request: HttpRequest

    def run_service(self) -> Model:
        raise NotImplementedError

    def _post_clean(self) -> None:
        # Instead of Django's model validation and save, the service validates and writes.
        if self._errors:  # type: ignore[attr-defined]
            return
        try:
            self.instance = self.run_service()
        except ApplicationError as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, str(exc.message))

    def save(self, commit: bool = True) -> Any:
        self.save_m2m = lambda: None  # type: ignore[method-assign]
        return self.instance


class ScopedModelAdmin(ModelAdmin):
    """Set ``org_field`` (``""`` when the row is an organisation) and the capabilities."""

    org_field: str | None = "org"
    view_capability: str | None = Capability.VIEW
    add_capability: str | None = None
    change_capability: str | None = None
    delete_capability: str | None = None
    service_form: type[ServiceForm] | None = None

    # --- what may be seen --------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scoped(super().get_queryset(request), actor=request.user, org_field=self.org_field)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Same answer for "outside your subtree" and "does not exist".
            raise Http404
        return obj

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Org:
            kwargs["queryset"] = visible_orgs(request)
        else:
            from gonghui.accounts.models import User
            from gonghui.members.models import Member

            if db_field.related_model is User:
                kwargs["queryset"] = scoped(User.objects.all(), actor=request.user)
            elif db_field.related_model is Member:
                kwargs["queryset"] = scoped(Member.objects.all(), actor=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- what may be done --------------------------------------------------------------------
    def _in_scope(self, request: HttpRequest, obj: Any) -> bool:
        if obj is None:
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return staff_can(request, self.view_capability)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return staff_can(request, self.view_capability) and self._in_scope(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return staff_can(request, self.add_capability)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return staff_can(request, self.change_capability) and self._in_scope(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return staff_can(request, self.delete_capability) and self._in_scope(request, obj)

    # --- writes through services -------------------------------------------------------------
    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(form, ServiceForm):
            form = type(form.__name__, (form,), {"request": request})
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if isinstance(form, ServiceForm):
            return  # the service already wrote it while the form validated
        super().save_model(request, obj, form, change)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # A POST that comes back as the form again (an error somewhere, e.g. in an inline) must
        # leave nothing behind, even though the service already ran during validation.
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if (
                request.method == "POST"
                and response.status_code == 200
                and "_popup" not in request.POST
            ):
                transaction.set_rollback(True)
        return response


class ReadOnlyInline(TabularInline):
    """An inline that shows history only; visible to whoever may view the parent row."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return staff_can(request, Capability.VIEW)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


__all__ = [
    "ReadOnlyInline",
    "ScopedModelAdmin",
    "ScopedOrgListFilter",
    "ServiceForm",
    "staff_can",
    "visible_orgs",
]
