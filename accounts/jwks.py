"""GET /.well-known/jwks.json: the public keys that verify our tokens (RFC 7517), for other services."""

from datetime import UTC, datetime

from django.utils.cache import patch_cache_control
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import keys

# Verifiers may cache the set this long; one that meets an unknown `kid` should fetch it again.
CACHE_SECONDS = 300


class JWKSerializer(serializers.Serializer):
    """One public key (RFC 7517 and RFC 7518 section 6): which members appear depends on `kty`."""

    kid = serializers.CharField(help_text="The key's RFC 7638 thumbprint; tokens name it in their `kid` header.")
    kty = serializers.ChoiceField(choices=["OKP", "EC", "RSA"])
    alg = serializers.ChoiceField(choices=keys.KEY_PAIR_ALGORITHMS, help_text="The only algorithm this key verifies.")
    use = serializers.ChoiceField(choices=["sig"])
    crv = serializers.CharField(required=False, help_text="OKP and EC: Ed25519 or P-256.")
    x = serializers.CharField(required=False, help_text="OKP and EC: public point, base64url.")
    y = serializers.CharField(required=False, help_text="EC: public point, base64url.")
    n = serializers.CharField(required=False, help_text="RSA: modulus, base64url.")
    e = serializers.CharField(required=False, help_text="RSA: exponent, base64url.")


class JWKSetSerializer(serializers.Serializer):
    keys = JWKSerializer(many=True)


class JWKSetView(APIView):
    """The public keys that verify access and refresh tokens, as an RFC 7517 JWK Set.

    The signer's key and those retired keys whose tokens may not have expired yet. Never a private
    key or a shared secret: with HS256 the set is empty. Cacheable for five minutes.
    """

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=["auth"],
        summary="Public signing keys",
        operation_id="getSigningKeys",
        responses={200: JWKSetSerializer},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        response = Response(keys.key_ring_store().current().jwks(datetime.now(UTC)))
        patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
        return response
