"""Give every existing fleet SKR03's accounts for the VAT rates 19 %, 7 % and 0 %, as
fleet_create gives a new one; a rate a fleet already has accounts for keeps them. Reversed,
it removes the rows that are still exactly SKR03's defaults."""

from decimal import Decimal

from django.db import migrations

SKR03_RATE_ACCOUNTS = (
    (Decimal("19.00"), "8400", "", "1776", "1576", "9"),
    (Decimal("7.00"), "8300", "", "1771", "1571", "8"),
    (Decimal("0.00"), "8110", "", "", "", ""),
)
FIELDS = (
    "vat_rate",
    "revenue_account",
    "revenue_tax_code",
    "vat_account",
    "input_vat_account",
    "input_tax_code",
)


def skr03_accounts_add(apps, schema_editor):
    Fleet = apps.get_model("fleets", "Fleet")
    VatRateAccounts = apps.get_model("fleets", "VatRateAccounts")
    rows = []
    for fleet_id in Fleet.objects.values_list("pk", flat=True):
        present = set(
            VatRateAccounts.objects.filter(fleet_id=fleet_id).values_list("vat_rate", flat=True)
        )
        rows.extend(
            VatRateAccounts(fleet_id=fleet_id, **dict(zip(FIELDS, values, strict=True)))
            for values in SKR03_RATE_ACCOUNTS
            if values[0] not in present
        )
    VatRateAccounts.objects.bulk_create(rows)


def skr03_accounts_remove(apps, schema_editor):
    VatRateAccounts = apps.get_model("fleets", "VatRateAccounts")
    for values in SKR03_RATE_ACCOUNTS:
        VatRateAccounts.objects.filter(**dict(zip(FIELDS, values, strict=True))).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("fleets", "0006_fleet_accounting_settings"),
    ]

    operations = [
        migrations.RunPython(skr03_accounts_add, skr03_accounts_remove),
    ]
