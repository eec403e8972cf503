"""Admin of the fleets app: fleets, depots, cost centers, memberships, API keys, and the
logins memberships give roles to (admin_logins)."""

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone

from apps.fleets import admin_logins  # noqa: F401 - registers the logins' admin
from apps.fleets.admin_deletion import DeletesThroughServiceMixin
from apps.fleets.admin_writes import (
    SavesThroughServiceFormSet,
    SavesThroughServices,
    WritesThroughServices,
    form_changes,
)
from apps.fleets.invitations import (
    invitation_create,
    invitation_create_check,
    invitation_revoke,
)
from apps.fleets.models import (
    CostCenter,
    Depot,
    Fleet,
    FleetApiKey,
    Invitation,
    Membership,
    VatRateAccounts,
)
from apps.fleets.seller import invoice_items_missing
from apps.fleets.services import (
    FLEET_FIXED_FIELDS,
    cost_center_create,
    cost_center_delete,
    cost_center_delete_check,
    cost_center_update,
    depot_create,
    depot_delete,
    depot_delete_check,
    depot_update,
    fleet_api_key_issue,
    fleet_api_key_revoke,
    fleet_create,
    fleet_delete,
    fleet_delete_check,
    fleet_update,
    membership_create,
    membership_delete,
    membership_delete_check,
    membership_update_role,
    vat_rate_accounts_create,
    vat_rate_accounts_delete,
    vat_rate_accounts_update,
)
from apps.fleets.tenancy import ADMIN_ROLES, FleetScopedAdmin, FleetScopedTabularInline
from voltop.core.admin_forms import ServiceCheckedForm

DEPOT_FIELDS = ["name", "address", "grid_connection_limit_kw"]
COST_CENTER_FIELDS = ["code", "name", "is_active"]
VAT_RATE_ACCOUNTS_FIELDS = [
    "vat_rate",
    "revenue_account",
    "revenue_tax_code",
    "vat_account",
    "input_vat_account",
    "input_tax_code",
]


class DepotFormSet(SavesThroughServiceFormSet):
    def create_with_service(self, form) -> Depot:
        depot = form.instance
        return depot_create(
            fleet=depot.fleet, **{name: getattr(depot, name) for name in DEPOT_FIELDS}
        )

    def update_with_service(self, obj: Depot, changes: dict) -> Depot:
        return depot_update(depot=obj, changes=changes)

    def delete_check(self, obj: Depot) -> None:
        depot_delete_check(depot=obj)

    def delete_with_service(self, obj: Depot) -> None:
        depot_delete(depot=obj)


class CostCenterFormSet(SavesThroughServiceFormSet):
    def create_with_service(self, form) -> CostCenter:
        cost_center = form.instance
        return cost_center_create(
            fleet=cost_center.fleet,
            **{name: getattr(cost_center, name) for name in COST_CENTER_FIELDS},
        )

    def update_with_service(self, obj: CostCenter, changes: dict) -> CostCenter:
        return cost_center_update(cost_center=obj, changes=changes)

    def delete_check(self, obj: CostCenter) -> None:
        cost_center_delete_check(cost_center=obj)

    def delete_with_service(self, obj: CostCenter) -> None:
        cost_center_delete(cost_center=obj)


class DepotInline(WritesThroughServices, FleetScopedTabularInline):
    model = Depot
    formset = DepotFormSet
    fields = DEPOT_FIELDS
    fleet_path = "fleet"
    write_services = {"add": depot_create, "change": depot_update, "delete": depot_delete}


class CostCenterInline(WritesThroughServices, FleetScopedTabularInline):
    model = CostCenter
    formset = CostCenterFormSet
    fields = COST_CENTER_FIELDS
    fleet_path = "fleet"
    write_services = {
        "add": cost_center_create,
        "change": cost_center_update,
        "delete": cost_center_delete,
    }


class VatRateAccountsFormSet(SavesThroughServiceFormSet):
    def create_with_service(self, form) -> VatRateAccounts:
        accounts = form.instance
        return vat_rate_accounts_create(
            fleet=accounts.fleet,
            **{name: getattr(accounts, name) for name in VAT_RATE_ACCOUNTS_FIELDS},
        )

    def update_with_service(self, obj: VatRateAccounts, changes: dict) -> VatRateAccounts:
        return vat_rate_accounts_update(accounts=obj, changes=changes)

    def delete_check(self, obj: VatRateAccounts) -> None:
        """Accounts of a rate can always go: nothing refers to them."""

    def delete_with_service(self, obj: VatRateAccounts) -> None:
        vat_rate_accounts_delete(accounts=obj)


class VatRateAccountsInline(WritesThroughServices, FleetScopedTabularInline):
    """The ledger accounts and tax codes per VAT rate that the journal and DATEV book with."""

    model = VatRateAccounts
    formset = VatRateAccountsFormSet
    fields = VAT_RATE_ACCOUNTS_FIELDS
    fleet_path = "fleet"
    extra = 0
    write_services = {
        "add": vat_rate_accounts_create,
        "change": vat_rate_accounts_update,
        "delete": vat_rate_accounts_delete,
    }


@admin.register(Fleet)
class FleetAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    """Fleets: made and deleted (while still empty) by a superuser, their settings changed by
    the fleet's admins; slug, currency, time zone and country stay as the fleet was made."""

    fleet_path = ""
    editing_roles = ADMIN_ROLES
    list_display = ["name", "slug", "country", "currency", "time_zone", "default_vat_rate"]
    list_filter = ["country", "currency"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [DepotInline, CostCenterInline, VatRateAccountsInline]
    fixed_once_made = tuple(FLEET_FIXED_FIELDS)
    readonly_fields = ["invoice_readiness"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "country", "currency", "time_zone"]}),
        ("Billing", {"fields": ["default_vat_rate", "billing_period", "payment_terms_days"]}),
        (
            "Seller on invoices",
            {
                "fields": [
                    "legal_name",
                    "street",
                    "postal_code",
                    "city",
                    "vat_id",
                    "invoice_readiness",
                ]
            },
        ),
        ("Bank account", {"fields": ["iban", "bic"]}),
        ("Exports", {"fields": ["csv_delimiter", "csv_decimal_separator", "csv_bom"]}),
        (
            "Accounting",
            {
                "description": "The ledger accounts the journal and DATEV book with (SKR03 "
                "by default); the accounts per VAT rate are listed below.",
                "fields": [
                    "account_length",
                    "fiscal_year_start_month",
                    "receivables_account",
                    "bank_account",
                    "charging_cost_account",
                    "charging_payable_account",
                    "reimbursement_payable_account",
                    "payroll_account",
                    "refund_method",
                ],
            },
        ),
        ("DATEV", {"fields": ["datev_consultant_number", "datev_client_number"]}),
        ("Logins", {"fields": ["require_two_factor"]}),
    ]

    write_services = {"add": fleet_create, "change": fleet_update, "delete": fleet_delete}

    @admin.display(description="invoice readiness")
    def invoice_readiness(self, fleet: Fleet) -> str:
        """Which seller items EU VAT Directive Art. 226 asks for the fleet's invoices still
        lack (as saved)."""
        missing = invoice_items_missing(fleet)
        if not missing:
            return "Complete: invoices carry every seller item they must."
        return f"Invoices lack: {', '.join(missing)}."

    def get_inline_instances(self, request: HttpRequest, obj=None) -> list:
        """A fleet is made with SKR03's accounts per VAT rate; they are edited once it is."""
        inlines = super().get_inline_instances(request, obj)
        if obj is None:
            return [inline for inline in inlines if not isinstance(inline, VatRateAccountsInline)]
        return inlines

    def get_prepopulated_fields(self, request: HttpRequest, obj=None) -> dict:
        """The slug follows the name while the fleet is made; it is read-only afterwards."""
        return super().get_prepopulated_fields(request, obj) if obj is None else {}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def delete_check(self, obj: Fleet) -> None:
        fleet_delete_check(fleet=obj)

    def delete_with_service(self, obj: Fleet) -> None:
        fleet_delete(fleet=obj)

    def save_model(self, request: HttpRequest, obj: Fleet, form, change: bool) -> None:
        if change:
            fleet_update(fleet=obj, changes=form_changes(form))
        else:
            obj.pk = fleet_create(
                **{name: form.cleaned_data[name] for name in form.cleaned_data}
            ).pk


@admin.register(Depot)
class DepotAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    list_display = ["name", "fleet", "grid_connection_limit_kw"]
    list_filter = ["fleet"]
    list_select_related = ["fleet"]
    search_fields = ["name", "address"]
    autocomplete_fields = ["fleet"]
    fixed_once_made = ("fleet",)
    write_services = {"add": depot_create, "change": depot_update, "delete": depot_delete}

    def save_model(self, request: HttpRequest, obj: Depot, form, change: bool) -> None:
        if change:
            depot_update(depot=obj, changes=form_changes(form))
        else:
            obj.pk = depot_create(
                fleet=obj.fleet, **{name: getattr(obj, name) for name in DEPOT_FIELDS}
            ).pk

    def delete_check(self, obj: Depot) -> None:
        depot_delete_check(depot=obj)

    def delete_with_service(self, obj: Depot) -> None:
        depot_delete(depot=obj)


@admin.register(CostCenter)
class CostCenterAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    list_display = ["code", "name", "fleet", "is_active"]
    list_filter = ["fleet", "is_active"]
    list_select_related = ["fleet"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["fleet"]
    fixed_once_made = ("fleet",)
    write_services = {
        "add": cost_center_create,
        "change": cost_center_update,
        "delete": cost_center_delete,
    }

    def save_model(self, request: HttpRequest, obj: CostCenter, form, change: bool) -> None:
        if change:
            cost_center_update(cost_center=obj, changes=form_changes(form))
        else:
            obj.pk = cost_center_create(
                fleet=obj.fleet, **{name: getattr(obj, name) for name in COST_CENTER_FIELDS}
            ).pk

    def delete_check(self, obj: CostCenter) -> None:
        cost_center_delete_check(cost_center=obj)

    def delete_with_service(self, obj: CostCenter) -> None:
        cost_center_delete(cost_center=obj)


@admin.register(Membership)
class MembershipAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    """Who works on a fleet, with which role; given, changed and taken away by the fleet's
    admins through the services, so the fleet's last admin stays admin here as in the API."""

    editing_roles = ADMIN_ROLES
    list_display = ["user", "fleet", "role", "created_at"]
    list_filter = ["fleet", "role"]
    list_select_related = ["user", "fleet"]
    search_fields = ["user__username", "user__email", "fleet__name"]
    autocomplete_fields = ["fleet", "user"]
    write_services = {
        "add": membership_create,
        "change": membership_update_role,
        "delete": membership_delete,
    }

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        """A membership stays with its user and fleet; only the role changes."""
        return ["fleet", "user"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Membership, form, change: bool) -> None:
        if change:
            membership_update_role(membership=obj, role=obj.role)
        else:
            obj.pk = membership_create(fleet=obj.fleet, user=obj.user, role=obj.role).pk

    def delete_check(self, obj: Membership) -> None:
        membership_delete_check(membership=obj)

    def delete_with_service(self, obj: Membership) -> None:
        membership_delete(membership=obj)


@admin.register(FleetApiKey)
class FleetApiKeyAdmin(WritesThroughServices, SavesThroughServices, FleetScopedAdmin):
    """A fleet admin makes a key (shown once, here) and revokes it; a key is never edited, and
    never deleted: a revoked key stays on record."""

    editing_roles = ADMIN_ROLES
    list_display = ["name", "fleet", "role", "prefix", "last_used_at", "revoked_at"]
    list_filter = ["fleet", "role"]
    list_select_related = ["fleet"]
    search_fields = ["name", "prefix"]
    autocomplete_fields = ["fleet"]
    fields = ["fleet", "name", "role", "prefix", "created_by", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]
    write_services = {"add": fleet_api_key_issue, "revoke": fleet_api_key_revoke}

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is not None:
            return [*self.fields]
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: FleetApiKey, form, change: bool) -> None:
        if change:
            return
        key, text = fleet_api_key_issue(
            fleet=obj.fleet, name=obj.name, role=obj.role, created_by=request.user
        )
        obj.pk = key.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            f"The key for {key.name} is {text} — copy it now: it is not shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        self.act_per_row(request, queryset, lambda key: fleet_api_key_revoke(key=key), "revoked")


class InvitationForm(ServiceCheckedForm):
    """The invite form: invitation_create's refusals show on their field before it is called."""

    request_user = None

    class Meta:
        model = Invitation
        fields = ["fleet", "email", "role"]

    def service_check(self) -> None:
        if self.instance.pk is None:
            invitation_create_check(
                fleet=self.cleaned_data["fleet"],
                email=self.cleaned_data["email"],
                role=self.cleaned_data["role"],
                invited_by=self.request_user,
            )


@admin.register(Invitation)
class InvitationAdmin(WritesThroughServices, SavesThroughServices, FleetScopedAdmin):
    """A fleet admin invites a colleague by e-mail with a role (invitation_create e-mails the
    link) and revokes invitations not yet used; an invitation is never edited or deleted: it
    stays on record."""

    editing_roles = ADMIN_ROLES
    list_display = ["email", "fleet", "role", "status", "invited_by", "expires_at"]
    list_filter = ["fleet", "role"]
    list_select_related = ["fleet", "invited_by"]
    search_fields = ["email"]
    autocomplete_fields = ["fleet"]
    fields = [
        "fleet",
        "email",
        "role",
        "invited_by",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]
    readonly_fields = ["invited_by", "expires_at", "accepted_at", "accepted_by", "revoked_at"]
    form = InvitationForm
    actions = ["revoke"]
    write_services = {"add": invitation_create, "revoke": invitation_revoke}

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request_user": request.user})

    @admin.display(description="status")
    def status(self, invitation: Invitation) -> str:
        if invitation.accepted_at is not None:
            return "accepted"
        if invitation.revoked_at is not None:
            return "revoked"
        if invitation.expires_at <= timezone.now():
            return "expired"
        return "open"

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is not None:
            return [*self.fields]
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Invitation, form, change: bool) -> None:
        if change:
            return
        invitation, _secret = invitation_create(
            fleet=obj.fleet,
            email=obj.email,
            role=obj.role,
            invited_by=request.user,
            now=timezone.now(),
            base_url=request.build_absolute_uri("/"),
        )
        obj.pk = invitation.pk
        obj.refresh_from_db()
        self.message_user(request, f"{invitation.email} is invited; the link was e-mailed to them.")

    @admin.action(description="Revoke the selected invitations", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        now = timezone.now()
        self.act_per_row(
            request,
            queryset,
            lambda invitation: invitation_revoke(invitation=invitation, now=now),
            "revoked",
        )
