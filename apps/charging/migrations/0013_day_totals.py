import django.db.models.deletion
from django.db import migrations, models


# The session's day totals depend on the columns its trigger names; an update that changes none
# of them (billing's billed_at, a review) fires nothing.
CREATE_FUNCTIONS = """
CREATE FUNCTION charging_day_totals_add(session charging_chargingsession, sign integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO charging_chargingdaytotal AS total (
        fleet_id, day, location_kind, depot_id, cost_center_id, price_currency,
        sessions, energy_wh, price_incl_vat
    )
    SELECT session.fleet_id, (session.started_at AT TIME ZONE fleet.time_zone)::date,
        session.location_kind,
        (SELECT station.depot_id FROM charging_connector connector
            JOIN charging_chargingstation station ON station.id = connector.station_id
            WHERE connector.id = session.connector_id),
        session.cost_center_id, session.price_currency,
        sign, sign * coalesce(session.energy_wh, 0), sign * coalesce(session.price_incl_vat, 0)
    FROM fleets_fleet fleet WHERE fleet.id = session.fleet_id
    ON CONFLICT (fleet_id, day, location_kind, depot_id, cost_center_id, price_currency)
    DO UPDATE SET sessions = total.sessions + excluded.sessions,
        energy_wh = total.energy_wh + excluded.energy_wh,
        price_incl_vat = total.price_incl_vat + excluded.price_incl_vat;
END $$;

CREATE FUNCTION charging_day_totals_rebuild(rebuilt_fleet_id bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM charging_chargingdaytotal WHERE fleet_id = rebuilt_fleet_id;
    INSERT INTO charging_chargingdaytotal (
        fleet_id, day, location_kind, depot_id, cost_center_id, price_currency,
        sessions, energy_wh, price_incl_vat
    )
    SELECT session.fleet_id, (session.started_at AT TIME ZONE fleet.time_zone)::date,
        session.location_kind, station.depot_id, session.cost_center_id, session.price_currency,
        count(*), coalesce(sum(session.energy_wh), 0), coalesce(sum(session.price_incl_vat), 0)
    FROM charging_chargingsession session
    JOIN fleets_fleet fleet ON fleet.id = session.fleet_id
    LEFT JOIN charging_connector connector ON connector.id = session.connector_id
    LEFT JOIN charging_chargingstation station ON station.id = connector.station_id
    WHERE session.fleet_id = rebuilt_fleet_id AND session.status <> 'invalid'
    GROUP BY 1, 2, 3, 4, 5, 6;
END $$;

CREATE FUNCTION charging_session_day_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (
        OLD.fleet_id, OLD.started_at, OLD.status, OLD.location_kind, OLD.connector_id,
        OLD.cost_center_id, OLD.price_currency, OLD.energy_wh, OLD.price_incl_vat
    ) IS NOT DISTINCT FROM (
        NEW.fleet_id, NEW.started_at, NEW.status, NEW.location_kind, NEW.connector_id,
        NEW.cost_center_id, NEW.price_currency, NEW.energy_wh, NEW.price_incl_vat
    ) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF OLD.status <> 'invalid' THEN
            PERFORM charging_day_totals_add(OLD, -1);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF NEW.status <> 'invalid' THEN
            PERFORM charging_day_totals_add(NEW, 1);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION charging_day_totals_rebuild_fleets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'fleets_fleet' THEN
        PERFORM charging_day_totals_rebuild(NEW.id);
    ELSIF TG_TABLE_NAME = 'charging_chargingstation' THEN
        PERFORM charging_day_totals_rebuild(fleet_id) FROM (
            SELECT DISTINCT session.fleet_id FROM charging_chargingsession session
            JOIN charging_connector connector ON connector.id = session.connector_id
            WHERE connector.station_id = NEW.id
        ) fleets;
    ELSE
        PERFORM charging_day_totals_rebuild(fleet_id) FROM (
            SELECT DISTINCT session.fleet_id FROM charging_chargingsession session
            WHERE session.connector_id = NEW.id
        ) fleets;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER charging_session_day_totals
AFTER INSERT OR DELETE OR UPDATE OF
    fleet_id, started_at, status, location_kind, connector_id, cost_center_id, price_currency,
    energy_wh, price_incl_vat
ON charging_chargingsession
FOR EACH ROW WHEN (current_setting('voltop.day_totals_deferred', true) IS DISTINCT FROM 'on')
EXECUTE FUNCTION charging_session_day_totals_apply();

CREATE TRIGGER charging_fleet_zone_day_totals
AFTER UPDATE OF time_zone ON fleets_fleet
FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
EXECUTE FUNCTION charging_day_totals_rebuild_fleets();

CREATE TRIGGER charging_station_depot_day_totals
AFTER UPDATE OF depot_id ON charging_chargingstation
FOR EACH ROW WHEN (OLD.depot_id IS DISTINCT FROM NEW.depot_id)
EXECUTE FUNCTION charging_day_totals_rebuild_fleets();

CREATE TRIGGER charging_connector_station_day_totals
AFTER UPDATE OF station_id ON charging_connector
FOR EACH ROW WHEN (OLD.station_id IS DISTINCT FROM NEW.station_id)
EXECUTE FUNCTION charging_day_totals_rebuild_fleets();

SELECT charging_day_totals_rebuild(id) FROM fleets_fleet;
"""

DROP_FUNCTIONS = """
DROP TRIGGER charging_connector_station_day_totals ON charging_connector;
DROP TRIGGER charging_station_depot_day_totals ON charging_chargingstation;
DROP TRIGGER charging_fleet_zone_day_totals ON fleets_fleet;
DROP TRIGGER charging_session_day_totals ON charging_chargingsession;
DROP FUNCTION charging_day_totals_rebuild_fleets();
DROP FUNCTION charging_session_day_totals_apply();
DROP FUNCTION charging_day_totals_rebuild(bigint);
DROP FUNCTION charging_day_totals_add(charging_chargingsession, integer);
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("charging", "0012_sessions_billing_leaves_out_indexes"),
        ("fleets", "0009_invitations_two_factor_history"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChargingDayTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                (
                    "location_kind",
                    models.CharField(
                        choices=[("depot", "Depot"), ("home", "Home"), ("public", "Public")],
                        max_length=8,
                    ),
                ),
                ("price_currency", models.CharField(max_length=3)),
                ("sessions", models.IntegerField()),
                ("energy_wh", models.BigIntegerField()),
                ("price_incl_vat", models.DecimalField(decimal_places=2, max_digits=16)),
                (
                    "cost_center",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="fleets.costcenter",
                    ),
                ),
                (
                    "depot",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="fleets.depot",
                    ),
                ),
                (
                    "fleet",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="fleets.fleet",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=(
                            "fleet",
                            "day",
                            "location_kind",
                            "depot",
                            "cost_center",
                            "price_currency",
                        ),
                        name="charging_day_total_unique",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.RunPython(_on_postgresql(CREATE_FUNCTIONS), _on_postgresql(DROP_FUNCTIONS)),
    ]
