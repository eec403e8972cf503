"""Billing records what the finance exports read: each reimbursement line keeps the meter
source, price basis and rate of its session (existing lines filled from their sessions), and
each session a completed run left out is a row with its reason."""

from decimal import Decimal

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

HOME_RATE = "home_rate"
BATCH = 2000


def _home_rate_of_breakdown(breakdown):
    """As apps.payments.driver_bills.home_rate_of_breakdown, frozen here: the one unit price
    of the breakdown's energy lines, else None."""
    if not breakdown:
        return None
    prices = {
        Decimal(line["unit_price"])
        for period in breakdown.get("periods", ())
        for line in period.get("lines", ())
        if line.get("dimension") == "ENERGY"
    }
    return prices.pop() if len(prices) == 1 else None


def fill_reimbursement_lines(apps, schema_editor):
    """Each line gets its session's energy source and price basis; a line priced at a home
    rate gets the rate its session's price breakdown records, and stays empty without one."""
    ReimbursementLine = apps.get_model("payments", "ReimbursementLine")
    ChargingSession = apps.get_model("charging", "ChargingSession")
    session = ChargingSession.objects.filter(pk=OuterRef("session_id"))
    ReimbursementLine.objects.update(
        meter_source=Subquery(session.values("energy_source")[:1]),
        price_basis=Subquery(session.values("price_basis")[:1]),
    )
    home_rate_lines = (
        ReimbursementLine.objects.filter(price_basis=HOME_RATE)
        .order_by("pk")
        .values_list("pk", "session__price_breakdown")
    )
    rated = []
    for pk, breakdown in home_rate_lines.iterator(chunk_size=BATCH):
        rate = _home_rate_of_breakdown(breakdown)
        if rate is not None:
            rated.append(ReimbursementLine(pk=pk, rate_per_kwh=rate))
    ReimbursementLine.objects.bulk_update(rated, ["rate_per_kwh"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [
        ("charging", "0008_session_import"),
        ("payments", "0006_line_vat_is_the_line_alone"),
    ]

    operations = [
        migrations.CreateModel(
            name="BillingLeftOut",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("still_charging", "Still charging: billed in the period it ends"),
                            ("invalid", "Invalid"),
                            ("home_pending", "Home claim awaiting approval"),
                            ("home_rejected", "Home claim rejected"),
                            ("home_private", "Private home charging: the driver's own"),
                            ("home_not_claimed", "Home charging with no claim to approve"),
                            ("no_tariff", "No price: no tariff applies"),
                            (
                                "tariff_currency",
                                "No price: tariff in another currency than the fleet's",
                            ),
                            ("cost_pending", "No price: provider's cost pending"),
                            ("not_priced_yet", "No price yet: the pricing sweep prices it"),
                            ("other_currency", "Priced in another currency than the fleet's"),
                            (
                                "next_run",
                                "Priced after its driver was billed: the next run bills it",
                            ),
                        ],
                        max_length=16,
                    ),
                ),
            ],
            options={
                "verbose_name": "session left out",
                "verbose_name_plural": "sessions left out",
                "ordering": ["run", "session"],
            },
        ),
        migrations.AddField(
            model_name="reimbursementline",
            name="meter_source",
            field=models.CharField(
                choices=[("measured", "Measured by a charger"), ("entered", "Entered by a person")],
                default="",
                help_text="Whether the energy was measured by a charger or entered by a person.",
                max_length=8,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="reimbursementline",
            name="price_basis",
            field=models.CharField(
                choices=[
                    ("tariff", "Tariff"),
                    ("home_rate", "Driver's home rate"),
                    ("provider", "Provider's cost (CDR)"),
                ],
                default="",
                help_text="What priced the session.",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="reimbursementline",
            name="rate_per_kwh",
            field=models.DecimalField(
                blank=True,
                decimal_places=5,
                help_text="The driver's home rate that priced the session, excl. VAT, as its price breakdown records it; empty when the session was not priced at a home rate per kWh or its breakdown does not say.",
                max_digits=12,
                null=True,
                verbose_name="rate per kWh",
            ),
        ),
        migrations.AddConstraint(
            model_name="reimbursementline",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("rate_per_kwh__isnull", True), ("price_basis", "home_rate"), _connector="OR"
                ),
                name="reimbursement_line_rate_is_a_home_rate",
                violation_error_code="reimbursement_line_rate_is_a_home_rate",
                violation_error_message="Only a line priced at a home rate has a rate per kWh.",
            ),
        ),
        migrations.AddField(
            model_name="billingleftout",
            name="run",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="left_out_sessions",
                to="payments.billingrun",
            ),
        ),
        migrations.AddField(
            model_name="billingleftout",
            name="session",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="charging.chargingsession",
            ),
        ),
        migrations.AddConstraint(
            model_name="billingleftout",
            constraint=models.UniqueConstraint(
                fields=("run", "session"),
                name="billing_left_out_once_per_run",
                violation_error_code="billing_left_out_once_per_run",
                violation_error_message="The run already lists this session as left out.",
            ),
        ),
        migrations.AddConstraint(
            model_name="billingleftout",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "reason__in",
                        [
                            "still_charging",
                            "invalid",
                            "home_pending",
                            "home_rejected",
                            "home_private",
                            "home_not_claimed",
                            "no_tariff",
                            "tariff_currency",
                            "cost_pending",
                            "not_priced_yet",
                            "other_currency",
                            "next_run",
                        ],
                    )
                ),
                name="billing_left_out_reason_valid",
                violation_error_code="billing_left_out_reason_valid",
                violation_error_message="The reason must be one of LeftOutReason.",
            ),
        ),
        # Last: PostgreSQL refuses to alter a table with trigger events pending from the fill.
        migrations.RunPython(fill_reimbursement_lines, migrations.RunPython.noop),
    ]
