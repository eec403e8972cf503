"""Every default ordering of Voltop's models is complete: its keys, with the foreign keys among
them followed to their own model's ordering, tell any two rows apart, so a list that nothing
orders otherwise (a page, a choice list, an inline) comes in one order on every database."""

import pytest
from django.apps import apps
from django.db.models import Model

ORDERED_MODELS = [
    model
    for model in apps.get_models()
    if model.__module__.startswith(("apps.", "voltop.")) and model._meta.ordering
]


def _unique_field_sets(model: type[Model]) -> list[set[str]]:
    """The sets of fields no two rows share values of, all of them never null (NULLs do not
    clash in a unique constraint)."""
    opts = model._meta
    field_sets = [{field.name} for field in opts.concrete_fields if field.unique]
    field_sets += [set(fields) for fields in opts.unique_together]
    field_sets += [set(constraint.fields) for constraint in opts.total_unique_constraints]
    return [names for names in field_sets if not any(opts.get_field(name).null for name in names)]


def ordering_tie(model: type[Model]) -> str | None:
    """Why two rows of `model` can tie on its default ordering; None when they cannot."""
    opts = model._meta
    unique_sets = _unique_field_sets(model)
    ordered: set[str] = set()
    for key in opts.ordering:
        name = key.lstrip("-")
        if name in ("pk", opts.pk.name):
            return None
        field = opts.get_field(name)
        if field.is_relation and field.related_model._meta.ordering:
            tie = ordering_tie(field.related_model)
            if tie is not None:
                return f"{key} orders by {field.related_model.__name__}'s ordering, where {tie}"
        ordered.add(name)
        if any(names <= ordered for names in unique_sets):
            return None
    return f"two {opts.verbose_name_plural} can share {opts.ordering}"


def test_the_models_with_a_default_ordering_are_found():
    assert {model.__name__ for model in ORDERED_MODELS} >= {"Fleet", "ChargingSession", "Invoice"}


@pytest.mark.parametrize("model", ORDERED_MODELS, ids=lambda model: model._meta.label)
def test_a_default_ordering_tells_any_two_rows_apart(model):
    assert ordering_tie(model) is None
