"""Admin of the drivers app: charge tokens, and the list of a driver's tokens shown on their
page. The driver's page itself is registered by apps.vehicles.admin: marking a driver as left
there ends their vehicle assignments, a flow of the vehicles app."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from apps.drivers.models import ChargeToken
from apps.drivers.services import (
    charge_token_block,
    charge_token_check,
    charge_token_deactivate,
    charge_token_delete,
    charge_token_delete_check,
    charge_token_save,
)
from apps.fleets.admin_actions import act_with_reason
from apps.fleets.admin_deletion import DeletesThroughServiceFormSet, DeletesThroughServiceMixin
from apps.fleets.admin_writes import SavesThroughServices, WritesThroughServices
from apps.fleets.tenancy import FleetScopedAdmin, FleetScopedTabularInline
from voltop.core.admin_forms import ServiceCheckedForm


class ChargeTokenForm(ServiceCheckedForm):
    class Meta:
        model = ChargeToken
        fields = ["driver", "uid", "kind", "valid_from", "valid_until", "is_active"]

    def service_check(self) -> None:
        data = self.cleaned_data
        charge_token_check(
            driver=data["driver"],
            uid=data["uid"],
            valid_from=data["valid_from"],
            valid_until=data.get("valid_until"),
            is_active=data.get("is_active", False),
            exclude_pk=self.instance.pk,
        )


class ChargeTokenFormSet(DeletesThroughServiceFormSet):
    def delete_check(self, obj: ChargeToken) -> None:
        charge_token_delete_check(token=obj)

    def delete_with_service(self, obj: ChargeToken) -> None:
        charge_token_delete(token=obj)


class ChargeTokenInline(WritesThroughServices, FleetScopedTabularInline):
    """A driver's tokens, read-only on their page; one ticked for deletion is deleted by the
    service, which keeps a token sessions refer to."""

    model = ChargeToken
    formset = ChargeTokenFormSet
    write_services = {"delete": charge_token_delete}
    fleet_path = "driver__fleet"
    fields = ["uid", "kind", "valid_from", "valid_until", "is_active"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ChargeToken)
class ChargeTokenAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    form = ChargeTokenForm
    write_services = {
        "add": charge_token_save,
        "change": charge_token_save,
        "delete": charge_token_delete,
        "deactivate": charge_token_deactivate,
        "block": charge_token_block,
    }
    fleet_path = "driver__fleet"
    list_display = ["uid", "driver", "kind", "valid_from", "valid_until", "is_active"]
    list_filter = ["driver__fleet", "kind", "is_active"]
    list_select_related = ["driver"]
    search_fields = ["uid", "driver__first_name", "driver__last_name", "driver__employee_number"]
    autocomplete_fields = ["driver"]
    date_hierarchy = "valid_from"
    readonly_fields = ["blocked_reason", "blocked_by_suspension"]
    actions = ["block", "deactivate"]

    def save_model(self, request: HttpRequest, obj: ChargeToken, form, change: bool) -> None:
        charge_token_save(token=obj)

    def delete_check(self, obj: ChargeToken) -> None:
        charge_token_delete_check(token=obj)

    def delete_with_service(self, obj: ChargeToken) -> None:
        charge_token_delete(token=obj)

    @admin.action(
        description="Deactivate selected tokens (lost or stolen cards)", permissions=["change"]
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.act_per_row(
            request, queryset, lambda token: charge_token_deactivate(token=token), "deactivated"
        )

    @admin.action(
        description="Block selected tokens… (lost or stolen cards)", permissions=["change"]
    )
    def block(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Asks why on a confirmation page first; blocks once it is sent."""
        return act_with_reason(
            self,
            request,
            queryset,
            action="block",
            title="Block tokens",
            question="Block these tokens? They can no longer start a session, and stay blocked "
            "when their driver is reactivated after a suspension.",
            submit="Block",
            reason_help="Why they are blocked, e.g. “Card lost”.",
            act=lambda token, reason: charge_token_block(token=token, reason=reason),
            done="blocked",
        )
