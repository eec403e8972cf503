"""The fleet as the seller on its invoices and credit notes: the items EU VAT Directive
Art. 226 asks of the seller that its settings still lack, and how its IBAN is printed."""

from typing import Protocol


class SellerSettings(Protocol):
    street: str
    postal_code: str
    city: str
    vat_id: str
    iban: str


# (field, what an invoice lacks without it), in the order a reader meets them on the page.
INVOICE_SELLER_ITEMS = (
    ("street", "street of the legal address"),
    ("postal_code", "postal code of the legal address"),
    ("city", "city of the legal address"),
    ("vat_id", "VAT id"),
    ("iban", "IBAN for payment instructions"),
)


def invoice_items_missing(fleet: SellerSettings) -> list[str]:
    """The seller items the fleet's invoices lack, as a person reads them; [] when none. The
    legal name is never missing: the fleet's name stands in for it."""
    return [label for name, label in INVOICE_SELLER_ITEMS if not getattr(fleet, name).strip()]


def iban_grouped(iban: str) -> str:
    """An IBAN in groups of four characters, as it is printed for a person to copy."""
    return " ".join(iban[start : start + 4] for start in range(0, len(iban), 4))
