"""Fleet endpoints of the fleets app: my fleets and their settings, depots, cost centers,
members and API keys. Views parse input, call one service of apps.fleets.services, and render."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from apps.fleets import services
from apps.fleets.api.filtersets import (
    CostCenterFilterSet,
    DepotFilterSet,
    FleetApiKeyFilterSet,
    InvitationFilterSet,
    MembershipFilterSet,
)
from apps.fleets.api.fleet_serializers import (
    CostCenterSerializer,
    DepotSerializer,
    FleetApiKeySerializer,
    FleetSerializer,
    InvitationSerializer,
    IssuedFleetApiKeySerializer,
    MembershipCreateSerializer,
    MembershipSerializer,
    model_validation_as_api_error,
)
from apps.fleets.api.permissions import ADMIN_ROLES, ALL_ROLES, EDITING_ROLES, HasFleetRole
from apps.fleets.api.viewsets import FleetScopedViewSet
from apps.fleets.invitations import invitation_create, invitation_revoke
from apps.fleets.models import CostCenter, Depot, Fleet, FleetApiKey, Invitation, Membership
from voltop.core.api.idempotency import idempotent


class RefusesFleetApiKeys(BasePermission):
    """Who may hold or hand out access to a fleet is decided by people: a fleet API key, even
    an admin one, cannot make keys or change members (a leaked key could otherwise outlive its
    own revocation)."""

    message = "A fleet API key cannot do this; sign in as an admin of the fleet."

    def has_permission(self, request, view) -> bool:
        return not isinstance(request.auth, FleetApiKey)


class RefusesFleetApiKeysOnWrites(RefusesFleetApiKeys):
    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or super().has_permission(request, view)


class FleetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FleetScopedViewSet):
    """The fleets I belong to. An admin may change name, VAT rate, billing period and payment
    terms; slug, currency and time zone are fixed once invoices depend on them."""

    queryset = Fleet.objects.all()
    serializer_class = FleetSerializer
    fleet_lookup = "pk"
    read_roles = ALL_ROLES
    write_roles = ADMIN_ROLES
    filter_backends: list = []

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        fleet = self.get_object()
        serializer = self.get_serializer(fleet, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            fleet = services.fleet_update(fleet=fleet, changes=serializer.validated_data)
        return Response(self.get_serializer(fleet).data)


class DepotViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FleetScopedViewSet):
    """Depots of my fleets; managers and admins add, change and delete them. A depot that
    vehicles, charging stations or tariffs still refer to is not deleted (409)."""

    queryset = Depot.objects.order_by("fleet_id", "name", "pk")
    serializer_class = DepotSerializer
    read_roles = ALL_ROLES
    write_roles = EDITING_ROLES
    filterset_class = DepotFilterSet
    ordering_fields = ["name", "created_at"]

    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            depot = services.depot_create(**serializer.validated_data)
        return Response(self.get_serializer(depot).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        depot = self.get_object()
        serializer = self.get_serializer(depot, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            depot = services.depot_update(depot=depot, changes=serializer.validated_data)
        return Response(self.get_serializer(depot).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        """Delete the depot; one that vehicles, charging stations or tariffs still refer to is
        refused (409) and kept."""
        services.depot_delete(depot=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class CostCenterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FleetScopedViewSet):
    """Cost centers of my fleets; managers and admins add, change and delete them. A cost
    center that drivers, vehicles, sessions or cost allocations still refer to is not deleted
    (409): mark it inactive instead."""

    queryset = CostCenter.objects.order_by("fleet_id", "code", "pk")
    serializer_class = CostCenterSerializer
    read_roles = ALL_ROLES
    write_roles = EDITING_ROLES
    filterset_class = CostCenterFilterSet
    ordering_fields = ["code", "name"]

    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            cost_center = services.cost_center_create(**serializer.validated_data)
        return Response(self.get_serializer(cost_center).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        cost_center = self.get_object()
        serializer = self.get_serializer(cost_center, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            cost_center = services.cost_center_update(
                cost_center=cost_center, changes=serializer.validated_data
            )
        return Response(self.get_serializer(cost_center).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        """Delete the cost center; one that drivers, vehicles, sessions or cost allocations
        still refer to is refused (409) and kept: mark it inactive instead."""
        services.cost_center_delete(cost_center=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FleetScopedViewSet):
    """Who works on my fleets and with which role. Every member sees the list; admins give,
    change and take roles. The fleet's last admin cannot be demoted or removed."""

    queryset = Membership.objects.select_related("user").order_by("fleet_id", "pk")
    serializer_class = MembershipSerializer
    permission_classes = [HasFleetRole, RefusesFleetApiKeysOnWrites]
    read_roles = ALL_ROLES
    write_roles = ADMIN_ROLES
    filterset_class = MembershipFilterSet
    ordering_fields = ["created_at"]

    def get_serializer_class(self):
        if self.action == "create":
            return MembershipCreateSerializer
        return MembershipSerializer

    @extend_schema(request=MembershipCreateSerializer, responses={201: MembershipSerializer})
    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            membership = services.membership_create(
                fleet=serializer.validated_data["fleet"],
                user=serializer.validated_data["email"],
                role=serializer.validated_data["role"],
            )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        membership = self.get_object()
        serializer = self.get_serializer(membership, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            membership = services.membership_update_role(
                membership=membership,
                role=serializer.validated_data.get("role", membership.role),
            )
        return Response(self.get_serializer(membership).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.membership_delete(membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class FleetApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FleetScopedViewSet):
    """API keys of my fleets, for admins. A new key's full text is in the create response only;
    afterwards only its prefix is shown. Idempotency-Key is not honoured here: a replay would
    have to store the key's secret."""

    queryset = FleetApiKey.objects.order_by("fleet_id", "name", "pk")
    serializer_class = FleetApiKeySerializer
    permission_classes = [HasFleetRole, RefusesFleetApiKeys]
    read_roles = ADMIN_ROLES
    write_roles = ADMIN_ROLES
    filterset_class = FleetApiKeyFilterSet
    ordering_fields = ["name", "created_at"]

    @extend_schema(request=FleetApiKeySerializer, responses={201: IssuedFleetApiKeySerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, key_text = services.fleet_api_key_issue(
            fleet=serializer.validated_data["fleet"],
            name=serializer.validated_data["name"],
            role=serializer.validated_data["role"],
            created_by=request.user,
        )
        key.key = key_text
        return Response(IssuedFleetApiKeySerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=FleetApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk=None) -> Response:
        """Stop the key working from the next request on; revoking it again changes nothing."""
        key = services.fleet_api_key_revoke(key=self.get_object())
        return Response(self.get_serializer(key).data)


class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FleetScopedViewSet):
    """Invitations to my fleets' teams, for admins: inviting e-mails the address a link to join
    with the role (apps.fleets.invitations); an open invitation can be revoked. A fleet API key
    cannot invite."""

    queryset = Invitation.objects.order_by("fleet_id", "-created_at", "pk")
    serializer_class = InvitationSerializer
    permission_classes = [HasFleetRole, RefusesFleetApiKeys]
    read_roles = ADMIN_ROLES
    write_roles = ADMIN_ROLES
    filterset_class = InvitationFilterSet
    ordering_fields = ["email", "created_at", "expires_at"]

    @extend_schema(request=InvitationSerializer, responses={201: InvitationSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation, _secret = invitation_create(
            fleet=serializer.validated_data["fleet"],
            email=serializer.validated_data["email"],
            role=serializer.validated_data["role"],
            invited_by=request.user,
            now=timezone.now(),
            base_url=request.build_absolute_uri("/"),
        )
        return Response(self.get_serializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk=None) -> Response:
        """Stop the invitation's link working; a used one is refused, revoking twice changes
        nothing."""
        invitation = invitation_revoke(invitation=self.get_object(), now=timezone.now())
        return Response(self.get_serializer(invitation).data)
