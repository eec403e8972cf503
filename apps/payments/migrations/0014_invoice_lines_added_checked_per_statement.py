"""Lines added to an issued invoice are refused once per statement, not once per row.

Billing writes a unit's invoice lines in one INSERT of hundreds or thousands of rows; a row
trigger ran a query for each. The statement trigger reads the statement's new rows as a
transition table and looks their invoices up together, so a billing unit pays for one query.
Changing or deleting a line of an issued invoice stays refused row by row, by the same
function as before (payments 0002), now called for UPDATE and DELETE only.
"""

from django.db import migrations

from voltop.core.migration_operations import PostgreSQLOnlySQL


class Migration(migrations.Migration):
    dependencies = [("payments", "0013_history")]

    operations = [
        PostgreSQLOnlySQL(
            sql="""
                DROP TRIGGER invoice_line_issued_is_immutable ON payments_invoiceline;
                CREATE TRIGGER invoice_line_issued_is_immutable
                BEFORE UPDATE OR DELETE ON payments_invoiceline
                FOR EACH ROW EXECUTE FUNCTION payments_invoice_line_frozen_once_issued();

                CREATE FUNCTION payments_invoice_lines_added_while_draft() RETURNS trigger AS $$
                BEGIN
                    IF EXISTS (
                        SELECT 1 FROM payments_invoice i
                        WHERE i.status <> 'draft'
                          AND i.id IN (SELECT added.invoice_id FROM added_lines added)
                    ) THEN
                        RAISE EXCEPTION 'the lines of an issued invoice cannot change'
                            USING ERRCODE = 'restrict_violation',
                                  CONSTRAINT = 'invoice_line_issued_is_immutable';
                    END IF;
                    RETURN NULL;
                END;
                $$ LANGUAGE plpgsql;

                CREATE TRIGGER invoice_lines_added_while_draft
                AFTER INSERT ON payments_invoiceline
                REFERENCING NEW TABLE AS added_lines
                FOR EACH STATEMENT EXECUTE FUNCTION payments_invoice_lines_added_while_draft();
            """,
            reverse_sql="""
                DROP TRIGGER invoice_lines_added_while_draft ON payments_invoiceline;
                DROP FUNCTION payments_invoice_lines_added_while_draft();

                DROP TRIGGER invoice_line_issued_is_immutable ON payments_invoiceline;
                CREATE TRIGGER invoice_line_issued_is_immutable
                BEFORE INSERT OR UPDATE OR DELETE ON payments_invoiceline
                FOR EACH ROW EXECUTE FUNCTION payments_invoice_line_frozen_once_issued();
            """,
        ),
    ]
