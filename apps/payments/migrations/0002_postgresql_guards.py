"""PostgreSQL guards for issued documents, below the ORM so no query can get around them.

- An issued invoice never changes: only its status (paid, void), paid and e-mailed times may
  move, it cannot go back to draft, and it cannot be deleted.
- An issued invoice's lines cannot be added, changed or deleted.
- Credit notes and their lines never change and are never deleted.
On SQLite the models and services enforce the same rules.
"""

from django.db import migrations

from voltop.core.migration_operations import PostgreSQLOnlySQL


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [
        PostgreSQLOnlySQL(
            sql="""
                CREATE FUNCTION payments_invoice_frozen_once_issued() RETURNS trigger AS $$
                BEGIN
                    IF OLD.status = 'draft' THEN
                        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                        RETURN NEW;
                    END IF;
                    IF TG_OP = 'DELETE' THEN
                        RAISE EXCEPTION 'invoice % is issued and cannot be deleted', OLD.number
                            USING ERRCODE = 'restrict_violation',
                                  CONSTRAINT = 'invoice_issued_is_immutable';
                    END IF;
                    IF NEW.status = 'draft' OR (
                        NEW.fleet_id, NEW.driver_id, NEW.billing_run_id, NEW.number,
                        NEW.currency, NEW.period_start, NEW.period_end, NEW.net_total,
                        NEW.vat_total, NEW.gross_total, NEW.issued_at, NEW.due_at,
                        NEW.created_at
                    ) IS DISTINCT FROM (
                        OLD.fleet_id, OLD.driver_id, OLD.billing_run_id, OLD.number,
                        OLD.currency, OLD.period_start, OLD.period_end, OLD.net_total,
                        OLD.vat_total, OLD.gross_total, OLD.issued_at, OLD.due_at,
                        OLD.created_at
                    ) THEN
                        RAISE EXCEPTION 'invoice % is issued and cannot change', OLD.number
                            USING ERRCODE = 'restrict_violation',
                                  CONSTRAINT = 'invoice_issued_is_immutable';
                    END IF;
                    RETURN NEW;
                END;
                $$ LANGUAGE plpgsql;

                CREATE TRIGGER invoice_issued_is_immutable
                BEFORE UPDATE OR DELETE ON payments_invoice
                FOR EACH ROW EXECUTE FUNCTION payments_invoice_frozen_once_issued();

                CREATE FUNCTION payments_invoice_line_frozen_once_issued() RETURNS trigger AS $$
                BEGIN
                    IF EXISTS (
                        SELECT 1 FROM payments_invoice i
                        WHERE i.status <> 'draft' AND i.id IN (
                            CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.invoice_id END,
                            CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.invoice_id END
                        )
                    ) THEN
                        RAISE EXCEPTION 'the lines of an issued invoice cannot change'
                            USING ERRCODE = 'restrict_violation',
                                  CONSTRAINT = 'invoice_line_issued_is_immutable';
                    END IF;
                    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                    RETURN NEW;
                END;
                $$ LANGUAGE plpgsql;

                CREATE TRIGGER invoice_line_issued_is_immutable
                BEFORE INSERT OR UPDATE OR DELETE ON payments_invoiceline
                FOR EACH ROW EXECUTE FUNCTION payments_invoice_line_frozen_once_issued();

                CREATE FUNCTION payments_credit_note_frozen() RETURNS trigger AS $$
                BEGIN
                    RAISE EXCEPTION '% rows are issued documents and cannot change', TG_TABLE_NAME
                        USING ERRCODE = 'restrict_violation',
                              CONSTRAINT = 'credit_note_is_immutable';
                END;
                $$ LANGUAGE plpgsql;

                CREATE TRIGGER credit_note_is_immutable
                BEFORE UPDATE OR DELETE ON payments_creditnote
                FOR EACH ROW EXECUTE FUNCTION payments_credit_note_frozen();

                CREATE TRIGGER credit_note_line_is_immutable
                BEFORE UPDATE OR DELETE ON payments_creditnoteline
                FOR EACH ROW EXECUTE FUNCTION payments_credit_note_frozen();
            """,
            reverse_sql="""
                DROP TRIGGER credit_note_line_is_immutable ON payments_creditnoteline;
                DROP TRIGGER credit_note_is_immutable ON payments_creditnote;
                DROP FUNCTION payments_credit_note_frozen();
                DROP TRIGGER invoice_line_issued_is_immutable ON payments_invoiceline;
                DROP FUNCTION payments_invoice_line_frozen_once_issued();
                DROP TRIGGER invoice_issued_is_immutable ON payments_invoice;
                DROP FUNCTION payments_invoice_frozen_once_issued();
            """,
        ),
    ]
