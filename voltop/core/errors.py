"""Domain errors: a stable dotted code, a message a person understands, and the field concerned."""

from django.core.exceptions import ValidationError


class DomainError(Exception):
    """A refused business operation. Interfaces turn it into a form error or an API response."""

    code = "voltop.error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def as_validation_error(self) -> ValidationError:
        error = ValidationError(self.message, code=self.code)
        if self.field:
            return ValidationError({self.field: error})
        return error

    def __str__(self) -> str:
        return (
            f"{self.code}: {self.message}"
            if not self.field
            else (f"{self.code} ({self.field}): {self.message}")
        )


class NotFound(DomainError):
    """The object does not exist, or lies outside the caller's fleet."""

    code = "voltop.not_found"
    status = 404


class Conflict(DomainError):
    """The operation clashes with the current state of an object."""

    code = "voltop.conflict"
    status = 409


class FieldFixed(DomainError):
    """A change to a field that keeps the value its row was made with (a row's fleet, a
    fleet's currency)."""

    code = "voltop.field_fixed"
