"""Tables of the payments app (billing runs, invoices, payments) arrive with the billing work."""
