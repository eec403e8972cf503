"""Tenant isolation of the admin, proved over every registered ModelAdmin of the apps.

Two fleets, A and B, each hold one row of every model (tests.factories.fleet_rows_create). The
tests are generated from `admin.site._registry`, so a newly registered admin is covered without
editing this file.
"""

from urllib.parse import urlencode

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db.models import Model
from django.test import RequestFactory
from django.urls import reverse
from pghistory.models import Event as HistoryEvent

from apps.charging.models import MeterValue
from apps.fleets.choices import MembershipRole
from apps.fleets.tenancy import FleetScopedAdminMixin
from tests.factories import (
    FleetRows,
    MembershipFactory,
    StaffUserFactory,
    UserFactory,
    fleet_rows_create,
)

User = get_user_model()
INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."


def _voltop_admins() -> list[admin.ModelAdmin]:
    registered = [
        model_admin
        for model, model_admin in admin.site._registry.items()
        if model.__module__.startswith("apps.")
    ]
    return sorted(registered, key=lambda model_admin: model_admin.opts.label)


VOLTOP_ADMINS = _voltop_admins()


def _admin_id(model_admin: admin.ModelAdmin) -> str:
    return model_admin.opts.label


def _foreign_keys(model_admin: admin.ModelAdmin) -> list[tuple[admin.ModelAdmin, str]]:
    """The foreign keys a person may set in this admin's forms: editable, and not read-only on
    every page of it."""
    return [
        (model_admin, field.name)
        for field in model_admin.model._meta.get_fields()
        if field.concrete and (field.many_to_one or field.one_to_one)
        if field.editable and field.name not in model_admin.readonly_fields
    ]


def _is_fleet_scoped(model: type[Model]) -> bool:
    return isinstance(admin.site._registry.get(model), FleetScopedAdminMixin)


FOREIGN_KEYS = [pair for model_admin in VOLTOP_ADMINS for pair in _foreign_keys(model_admin)]
AUTOCOMPLETES = [
    (model_admin, field_name)
    for model_admin in VOLTOP_ADMINS
    for field_name in model_admin.autocomplete_fields
    if _is_fleet_scoped(model_admin.model._meta.get_field(field_name).remote_field.model)
]
UNSCOPED_AUTOCOMPLETES = [
    (model_admin, field_name)
    for model_admin in VOLTOP_ADMINS
    for field_name in model_admin.autocomplete_fields
    if not _is_fleet_scoped(model_admin.model._meta.get_field(field_name).remote_field.model)
]
INLINES = [
    (model_admin, inline_class)
    for model_admin in VOLTOP_ADMINS
    for inline_class in model_admin.inlines
]
RELATED_LIST_FILTERS = [
    (model_admin, item)
    for model_admin in VOLTOP_ADMINS
    for item in model_admin.list_filter
    if isinstance(item, str) and get_fields_from_path(model_admin.model, item)[-1].is_relation
]


def _pair_ids(pairs) -> list[str]:
    return [
        f"{model_admin.opts.label}.{getattr(name, '__name__', name)}" for model_admin, name in pairs
    ]


# -- users and URLs --------------------------------------------------------------------------------


def member(*fleet_roles: tuple[FleetRows, str]) -> User:
    """A staff user with a membership of each given fleet, in the given role."""
    user = StaffUserFactory()
    for rows, role in fleet_roles:
        MembershipFactory(user=user, fleet=rows.fleet, role=role)
    return user


def editing_role(model_admin: admin.ModelAdmin) -> str:
    """The least role that may edit rows of this admin: manager, or admin where managers may not."""
    if MembershipRole.MANAGER in model_admin.editing_roles:
        return MembershipRole.MANAGER
    return MembershipRole.ADMIN


def viewing_roles(model_admin: admin.ModelAdmin) -> frozenset[str]:
    """The roles that may see this admin's rows: every role, unless the admin says fewer (the
    exports' admins show only to a fleet's admins and finance)."""
    return frozenset(getattr(model_admin, "viewing_roles", MembershipRole.values))


def seeing_role(model_admin: admin.ModelAdmin) -> str:
    """A member who sees this admin's rows: a manager, or finance where managers may not."""
    if MembershipRole.MANAGER in viewing_roles(model_admin):
        return MembershipRole.MANAGER
    return MembershipRole.FINANCE


def reading_role(model_admin: admin.ModelAdmin) -> str:
    """A member who may see this admin's rows but not change them: a viewer, or finance where
    viewers may not see them."""
    if MembershipRole.VIEWER in viewing_roles(model_admin):
        return MembershipRole.VIEWER
    return MembershipRole.FINANCE


EDITOR_SCOPES = ["editor of A", "editor of A and viewer of B"]


def editor(model_admin: admin.ModelAdmin, scope: str, fleet_a: FleetRows, fleet_b: FleetRows):
    fleet_roles = [(fleet_a, editing_role(model_admin))]
    if scope == "editor of A and viewer of B":
        fleet_roles.append((fleet_b, MembershipRole.VIEWER))
    return member(*fleet_roles)


def may_delete_any(model_admin: admin.ModelAdmin, user) -> bool:
    """Whether `user` may delete some row of this admin: else its delete page is a plain 403."""
    request = RequestFactory().get("/")
    request.user = user
    return model_admin.has_delete_permission(request)


def url(model_admin: admin.ModelAdmin, view: str, obj: Model | None = None) -> str:
    opts = model_admin.opts
    args = [obj.pk] if obj is not None else []
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def autocomplete_url(model_admin: admin.ModelAdmin, field_name: str, term: str = "") -> str:
    query = {
        "app_label": model_admin.opts.app_label,
        "model_name": model_admin.opts.model_name,
        "field_name": field_name,
        "term": term,
    }
    return f"{reverse('admin:autocomplete')}?{urlencode(query)}"


def result_pks(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


def row_counts() -> dict[str, int]:
    models = [model for model in apps.get_models() if model.__module__.startswith("apps.")]
    return {model._meta.label: model._default_manager.count() for model in models}


def form_payload(response) -> dict:
    """POST data that submits the admin form rendered in `response` with its values unchanged.

    Inline formsets are sent empty: their rows stay as they are.
    """
    data: dict = {}
    for bound_field in response.context["adminform"].form:
        widget = bound_field.field.widget
        widget = getattr(widget, "widget", widget)  # RelatedFieldWidgetWrapper
        value = bound_field.value()
        name = bound_field.html_name
        if isinstance(widget, forms.CheckboxInput):
            if value:
                data[name] = "on"
        elif isinstance(widget, forms.MultiWidget):
            for suffix, subwidget, part in zip(
                widget.widgets_names, widget.widgets, widget.decompress(value), strict=True
            ):
                data[f"{name}{suffix}"] = subwidget.format_value(part) or ""
        elif value is None:
            data[name] = ""
        elif isinstance(value, list | tuple):
            data[name] = [str(item) for item in value]
        elif isinstance(widget, forms.Select):
            data[name] = str(value)
        else:
            data[name] = widget.format_value(value) or ""
    for inline_admin_formset in response.context["inline_admin_formsets"]:
        prefix = inline_admin_formset.formset.prefix
        data[f"{prefix}-TOTAL_FORMS"] = "0"
        data[f"{prefix}-INITIAL_FORMS"] = "0"
    return data


def add_payload(change_page, own_row: Model) -> dict:
    """The change form's payload of `own_row`, plus the foreign keys read-only once saved."""
    payload = form_payload(change_page)
    for field in own_row._meta.concrete_fields:
        if field.is_relation and field.editable and field.name not in payload:
            payload[field.name] = str(getattr(own_row, field.attname) or "")
    return payload


def expected_choices(model: type[Model], rows: FleetRows, user) -> set[int]:
    """Pks of `model` a user editing in `rows.fleet` may pick from."""
    if model is User:
        return {rows.driver.user.pk, rows.membership.user.pk, user.pk}
    return {rows.row_of(model).pk}


@pytest.fixture
def fleet_a(db) -> FleetRows:
    return fleet_rows_create(name="Fleet A")


@pytest.fixture
def fleet_b(db) -> FleetRows:
    return fleet_rows_create(name="Fleet B")


# -- every model is in the admin, usefully -------------------------------------------------------


# Rows only a service or a trigger writes, which no person has reason to list on their own:
# invoice number counters, the sessions' day totals the dashboard shows as its figures, the
# OCPP gateway's calls to chargers and the frames it saw, which the station's page shows, and
# the chargers no fleet knows, which a superuser's page of the stations lists.
INTERNAL_MODELS = {
    "payments.DocumentCounter",
    "charging.ChargingDayTotal",
    "charging.ChargerCall",
    "charging.ChargerMessage",
    "charging.UnassignedStation",
}


def test_every_model_of_the_apps_is_in_the_admin():
    """Recorded history (pghistory's event models) is shown on its object's history page."""
    models = {
        model
        for model in apps.get_models()
        if model.__module__.startswith("apps.")
        and model._meta.label not in INTERNAL_MODELS
        and not issubclass(model, HistoryEvent)
    }
    registered = {model_admin.model for model_admin in VOLTOP_ADMINS}
    inline_only = {inline.model for _admin, inline in INLINES} - registered

    assert models == registered | inline_only


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
def test_admin_lists_filters_searches_and_autocompletes_every_foreign_key(model_admin):
    foreign_keys = {name for _admin, name in _foreign_keys(model_admin)}
    moments = [
        field.name
        for field in model_admin.model._meta.concrete_fields
        if field.get_internal_type() == "DateTimeField" and field.editable and not field.null
    ]

    assert len(model_admin.list_display) >= 3
    assert model_admin.list_filter
    assert model_admin.search_fields
    assert set(model_admin.autocomplete_fields) == foreign_keys
    if moments:
        assert model_admin.date_hierarchy in moments


# -- a member sees and reaches only their fleets' rows ---------------------------------------------


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
def test_changelist_shows_only_rows_of_the_members_fleet(client, fleet_a, fleet_b, model_admin):
    client.force_login(member((fleet_a, seeing_role(model_admin))))
    own_fleet_lookup = model_admin.fleet_path or "pk"

    response = client.get(url(model_admin, "changelist"))

    assert response.status_code == 200
    shown = result_pks(response)
    assert fleet_a.row_of(model_admin.model).pk in shown
    assert fleet_b.row_of(model_admin.model).pk not in shown
    own_rows = model_admin.model._default_manager.filter(**{own_fleet_lookup: fleet_a.fleet.pk})
    assert shown == set(own_rows.values_list("pk", flat=True))


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_pages_of_another_fleets_row_redirect_to_the_index_as_missing(
    client, fleet_a, fleet_b, model_admin, view
):
    user = member((fleet_a, seeing_role(model_admin)))
    client.force_login(user)
    other_row = fleet_b.row_of(model_admin.model)

    response = client.get(url(model_admin, view, other_row))

    if view == "delete" and not may_delete_any(model_admin, user):
        assert response.status_code == 403
        return
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        f"{model_admin.opts.verbose_name} with ID \u201c{other_row.pk}\u201d doesn\u2019t exist. "
        "Perhaps it was deleted?"
    ]


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
def test_change_page_of_own_fleets_row_renders(client, fleet_a, fleet_b, model_admin):
    client.force_login(member((fleet_a, seeing_role(model_admin))))

    response = client.get(url(model_admin, "change", fleet_a.row_of(model_admin.model)))

    assert response.status_code == 200
    assert response.context["original"] == fleet_a.row_of(model_admin.model)


@pytest.mark.parametrize(("model_admin", "inline_class"), INLINES, ids=_pair_ids(INLINES))
def test_change_page_shows_inline_rows_of_own_fleet_with_the_roles_permissions(
    client, fleet_a, fleet_b, model_admin, inline_class
):
    client.force_login(member((fleet_a, MembershipRole.MANAGER)))

    response = client.get(url(model_admin, "change", fleet_a.row_of(model_admin.model)))

    formsets = {type(f.opts): f for f in response.context["inline_admin_formsets"]}
    assert inline_class in formsets, f"{inline_class.__name__} is hidden from the fleet's manager"
    inline_admin_formset = formsets[inline_class]
    shown = {form.instance.pk for form in inline_admin_formset.formset.forms if form.instance.pk}
    assert shown == {fleet_a.row_of(inline_class.model).pk}
    assert inline_admin_formset.has_view_permission is True
    manager_edits_both = (
        MembershipRole.MANAGER in model_admin.editing_roles
        and MembershipRole.MANAGER in inline_class.editing_roles
    )
    assert inline_admin_formset.has_change_permission is manager_edits_both


@pytest.mark.parametrize(
    ("model_admin", "field_path"), RELATED_LIST_FILTERS, ids=_pair_ids(RELATED_LIST_FILTERS)
)
def test_changelist_filters_offer_only_related_rows_of_own_fleets(
    client, fleet_a, fleet_b, model_admin, field_path
):
    fleet_c = fleet_rows_create(name="Fleet C")
    client.force_login(
        member((fleet_a, seeing_role(model_admin)), (fleet_c, reading_role(model_admin)))
    )

    response = client.get(url(model_admin, "changelist"))

    (spec,) = (
        spec
        for spec in response.context["cl"].filter_specs
        if isinstance(spec, RelatedFieldListFilter) and spec.field_path == field_path
    )
    related_model = spec.field.remote_field.model
    assert {pk for pk, _label in spec.lookup_choices} == {
        fleet_a.row_of(related_model).pk,
        fleet_c.row_of(related_model).pk,
    }


# -- autocomplete and foreign-key choices offer only rows of fleets the user edits -----------------


@pytest.mark.parametrize("scope", EDITOR_SCOPES)
@pytest.mark.parametrize(("model_admin", "field_name"), AUTOCOMPLETES, ids=_pair_ids(AUTOCOMPLETES))
def test_autocomplete_returns_only_rows_of_fleets_the_user_edits(
    client, fleet_a, fleet_b, model_admin, field_name, scope
):
    client.force_login(editor(model_admin, scope, fleet_a, fleet_b))
    related_model = model_admin.model._meta.get_field(field_name).remote_field.model

    response = client.get(autocomplete_url(model_admin, field_name))

    assert response.status_code == 200
    assert {int(result["id"]) for result in response.json()["results"]} == {
        fleet_a.row_of(related_model).pk
    }


@pytest.mark.parametrize(
    ("model_admin", "field_name"), UNSCOPED_AUTOCOMPLETES, ids=_pair_ids(UNSCOPED_AUTOCOMPLETES)
)
def test_autocomplete_of_rows_outside_any_fleet_is_refused_to_fleet_staff(
    client, fleet_a, fleet_b, model_admin, field_name
):
    client.force_login(member((fleet_a, MembershipRole.ADMIN)))

    response = client.get(autocomplete_url(model_admin, field_name))

    assert response.status_code == 403


@pytest.mark.parametrize("scope", EDITOR_SCOPES)
@pytest.mark.parametrize(("model_admin", "field_name"), FOREIGN_KEYS, ids=_pair_ids(FOREIGN_KEYS))
def test_add_form_offers_only_related_rows_of_fleets_the_user_edits(
    client, fleet_a, fleet_b, model_admin, field_name, scope
):
    user = editor(model_admin, scope, fleet_a, fleet_b)
    client.force_login(user)
    related_model = model_admin.model._meta.get_field(field_name).remote_field.model

    response = client.get(url(model_admin, "add"))

    assert response.status_code == 200
    form_fields = response.context["adminform"].form.fields
    assert field_name in form_fields
    offered = set(form_fields[field_name].queryset.values_list("pk", flat=True))
    assert offered == expected_choices(related_model, fleet_a, user)


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
def test_editor_resubmitting_own_row_unchanged_saves_it(client, fleet_a, fleet_b, model_admin):
    user = editor(model_admin, "editor of A", fleet_a, fleet_b)
    client.force_login(user)
    own_row = fleet_a.row_of(model_admin.model)
    payload = form_payload(client.get(url(model_admin, "change", own_row)))
    request = RequestFactory().get("/")
    request.user = user

    response = client.post(url(model_admin, "change", own_row), payload)

    if not model_admin.has_change_permission(request, own_row):
        assert response.status_code == 403
        return
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert response["Location"] == url(model_admin, "changelist")


@pytest.mark.parametrize("scope", EDITOR_SCOPES)
@pytest.mark.parametrize(("model_admin", "field_name"), FOREIGN_KEYS, ids=_pair_ids(FOREIGN_KEYS))
def test_adding_a_row_pointing_to_another_fleet_is_refused_and_creates_nothing(
    client, fleet_a, fleet_b, model_admin, field_name, scope
):
    client.force_login(editor(model_admin, scope, fleet_a, fleet_b))
    related_model = model_admin.model._meta.get_field(field_name).remote_field.model
    own_row = fleet_a.row_of(model_admin.model)
    payload = add_payload(client.get(url(model_admin, "change", own_row)), own_row)
    payload[field_name] = str(fleet_b.row_of(related_model).pk)
    counts_before = row_counts()

    response = client.post(url(model_admin, "add"), payload)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field_name] == [INVALID_CHOICE]
    assert row_counts() == counts_before


@pytest.mark.parametrize("scope", EDITOR_SCOPES)
@pytest.mark.parametrize(("model_admin", "field_name"), FOREIGN_KEYS, ids=_pair_ids(FOREIGN_KEYS))
def test_moving_a_row_to_another_fleets_related_row_is_refused_and_changes_nothing(
    client, fleet_a, fleet_b, model_admin, field_name, scope
):
    client.force_login(editor(model_admin, scope, fleet_a, fleet_b))
    related_model = model_admin.model._meta.get_field(field_name).remote_field.model
    own_row = fleet_a.row_of(model_admin.model)
    attname = model_admin.model._meta.get_field(field_name).attname
    related_id_before = getattr(own_row, attname)
    change_page = client.get(url(model_admin, "change", own_row))
    payload = form_payload(change_page)
    payload[field_name] = str(fleet_b.row_of(related_model).pk)

    response = client.post(url(model_admin, "change", own_row), payload)

    if field_name in change_page.context["adminform"].form.fields:
        assert response.status_code == 200
        assert response.context["adminform"].form.errors[field_name] == [INVALID_CHOICE]
    else:  # read-only once saved: the posted value is ignored
        assert field_name in change_page.context["adminform"].readonly_fields
    own_row.refresh_from_db()
    assert getattr(own_row, attname) == related_id_before


def test_bulk_delete_of_rows_in_a_fleet_the_user_only_views_is_refused(client, fleet_a, fleet_b):
    client.force_login(member((fleet_a, MembershipRole.MANAGER), (fleet_b, MembershipRole.VIEWER)))
    model_admin = admin.site._registry[MeterValue]
    selected = [fleet_a.meter_value.pk, fleet_b.meter_value.pk]

    response = client.post(
        url(model_admin, "changelist"),
        {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
    )

    assert response.status_code == 403
    assert MeterValue.objects.filter(pk__in=selected).count() == 2


# -- roles: a viewer only views --------------------------------------------------------------------


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
def test_viewer_is_refused_the_add_page_and_its_post(client, fleet_a, fleet_b, model_admin):
    client.force_login(editor(model_admin, "editor of A", fleet_a, fleet_b))
    payload = form_payload(
        client.get(url(model_admin, "change", fleet_a.row_of(model_admin.model)))
    )
    client.force_login(member((fleet_a, reading_role(model_admin))))
    counts_before = row_counts()

    get_response = client.get(url(model_admin, "add"))
    post_response = client.post(url(model_admin, "add"), payload)

    assert get_response.status_code == 403
    assert post_response.status_code == 403
    assert row_counts() == counts_before


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
def test_viewer_sees_the_change_page_read_only_and_its_post_is_refused(
    client, fleet_a, fleet_b, model_admin
):
    own_row = fleet_a.row_of(model_admin.model)
    client.force_login(editor(model_admin, "editor of A", fleet_a, fleet_b))
    payload = form_payload(client.get(url(model_admin, "change", own_row)))
    client.force_login(member((fleet_a, reading_role(model_admin))))

    get_response = client.get(url(model_admin, "change", own_row))
    post_response = client.post(url(model_admin, "change", own_row), payload)

    assert get_response.status_code == 200
    assert get_response.context["has_change_permission"] is False
    assert get_response.context["has_delete_permission"] is False
    assert post_response.status_code == 403
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
def test_viewer_gets_only_read_only_actions_and_no_delete_page(
    client, fleet_a, fleet_b, model_admin
):
    client.force_login(member((fleet_a, reading_role(model_admin))))
    own_row = fleet_a.row_of(model_admin.model)

    changelist = client.get(url(model_admin, "changelist"))
    delete_page = client.get(url(model_admin, "delete", own_row))

    assert changelist.status_code == 200
    offered = model_admin.get_actions(changelist.wsgi_request)
    assert all(
        set(getattr(function, "allowed_permissions", ("change",))) == {"view"}
        for function, _name, _description in offered.values()
    )
    assert delete_page.status_code == 403


# -- who enters the admin at all -------------------------------------------------------------------


def test_staff_without_membership_sees_no_voltop_models_on_the_index(client, fleet_a, fleet_b):
    client.force_login(StaffUserFactory())

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["app_list"] == []


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
def test_staff_without_membership_is_refused_every_changelist(
    client, fleet_a, fleet_b, model_admin
):
    client.force_login(StaffUserFactory())

    response = client.get(url(model_admin, "changelist"))

    assert response.status_code == 403


def test_member_sees_the_voltop_apps_on_the_index(client, fleet_a, fleet_b):
    client.force_login(member((fleet_a, MembershipRole.VIEWER)))

    response = client.get(reverse("admin:index"))

    shown = {m["object_name"] for app in response.context["app_list"] for m in app["models"]}
    assert shown == {
        model_admin.model.__name__
        for model_admin in VOLTOP_ADMINS
        if MembershipRole.VIEWER in viewing_roles(model_admin)
    }


def test_user_who_is_not_staff_cannot_enter_the_admin(client, fleet_a, fleet_b):
    user = UserFactory()
    MembershipFactory(user=user, fleet=fleet_a.fleet, role=MembershipRole.ADMIN)
    client.force_login(user)
    changelist = url(admin.site._registry[type(fleet_a.driver)], "changelist")

    index_response = client.get(reverse("admin:index"))
    changelist_response = client.get(changelist)

    assert index_response.status_code == 302
    assert index_response["Location"] == f"{reverse('admin:login')}?next={reverse('admin:index')}"
    assert changelist_response.status_code == 302
    assert changelist_response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
def test_superuser_sees_the_rows_of_both_fleets(admin_client, fleet_a, fleet_b, model_admin):
    response = admin_client.get(url(model_admin, "changelist"))

    assert response.status_code == 200
    assert result_pks(response) == {
        fleet_a.row_of(model_admin.model).pk,
        fleet_b.row_of(model_admin.model).pk,
    }


# -- every page renders as a real user would see it ------------------------------------------------


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
def test_every_page_of_the_admin_renders_for_a_superuser(
    admin_client, fleet_a, fleet_b, model_admin
):
    row = fleet_a.row_of(model_admin.model)
    request = RequestFactory().get("/")
    request.user = User.objects.get(username="admin")
    read_only = not model_admin.has_add_permission(request)
    undeletable = not model_admin.has_delete_permission(request, row)
    pages = {
        url(model_admin, "changelist"): 200,
        url(model_admin, "changelist") + "?q=a": 200,
        url(model_admin, "add"): 403 if read_only else 200,
        url(model_admin, "change", row): 200,
        url(model_admin, "history", row): 200,
        url(model_admin, "delete", row): 403 if undeletable else 200,
    }
    if model_admin.date_hierarchy:
        pages[url(model_admin, "changelist") + f"?{model_admin.date_hierarchy}__year=2026"] = 200

    statuses = {page: admin_client.get(page).status_code for page in pages}

    assert statuses == pages


@pytest.fixture
def thirty_fleets(db) -> list[FleetRows]:
    return [fleet_rows_create() for _ in range(30)]


# Queries a list makes beyond the others', whatever its number of rows: the sessions' list is
# headed by how many sessions have no price, by reason.
CHANGELIST_EXTRA_QUERIES = {"charging.ChargingSession": 1}


@pytest.mark.parametrize("model_admin", VOLTOP_ADMINS, ids=_admin_id)
@pytest.mark.parametrize("who", ["superuser", "manager of every fleet"])
def test_changelist_of_thirty_rows_takes_a_bounded_number_of_queries(
    client, thirty_fleets, model_admin, who, django_assert_max_num_queries
):
    if who == "superuser":
        user = StaffUserFactory(is_superuser=True)
    else:
        user = member(*[(rows, seeing_role(model_admin)) for rows in thirty_fleets])
    client.force_login(user)

    with django_assert_max_num_queries(
        15 + CHANGELIST_EXTRA_QUERIES.get(model_admin.opts.label, 0)
    ):
        response = client.get(url(model_admin, "changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 30
