"""Payments: billing runs, invoices, credit notes, reimbursements and payments."""
