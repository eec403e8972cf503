"""The OpenAPI description of Voltop's error shape, added to every operation."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

ERROR_STATUSES = {
    "400": "The request breaks a rule: each error names its field.",
    "401": "Not logged in, or the token or API key is not valid.",
    "403": "Logged in, but the role does not allow this.",
    "404": "No such object among those the caller may see.",
    "409": "The object's state does not allow this now.",
    "422": "A business rule refuses the request (the error's code says which).",
    "429": "Too many requests, or too many failed logins.",
}


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, e.g. `charging.connector_busy`.")
    detail = serializers.CharField(help_text="A sentence a person understands.")
    attr = serializers.CharField(
        allow_null=True, help_text="The field concerned (dotted when nested), or null."
    )


class ErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["validation_error", "client_error", "server_error"])
    errors = ErrorSerializer(many=True)


class VoltopAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the error responses every operation can give."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status, description in ERROR_STATUSES.items():
            if status not in responses:
                response = self._get_response_for_code(ErrorResponseSerializer, status)
                response["description"] = description
                responses[status] = response
        return responses
