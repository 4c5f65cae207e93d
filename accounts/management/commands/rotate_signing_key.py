"""Make a new token signing key the signer; the previous ones verify until their tokens have expired."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rest_framework_simplejwt import settings as simplejwt_settings

from accounts import keys, tokens


def verification_period() -> timedelta:
    """How long a retired key must keep verifying: until the longest-lived token it signed expires.

    Workers notice a rotation within keys.RECHECK_SECONDS and may sign with the old key until then.
    """
    jwt_settings = simplejwt_settings.api_settings
    longest = max(jwt_settings.ACCESS_TOKEN_LIFETIME, jwt_settings.REFRESH_TOKEN_LIFETIME)
    return longest + tokens.key_ring_backend().get_leeway() + timedelta(seconds=keys.RECHECK_SECONDS)


class Command(BaseCommand):
    help = (
        "Create a new signing key of JWT_ALGORITHM and make it the signer. Previous keys keep only their "
        "public half and verify until every token they signed has expired; expired ones are dropped. Nobody "
        "is logged out. Also creates the first key."
    )
    requires_system_checks: list = []  # It makes the first key, which the rest of the project needs.

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--print",
            action="store_true",
            help="Rotate the ring in JWT_PRIVATE_KEYS (or start one) and print it, private key included, for "
            "your secret store, instead of writing JWT_KEYS_FILE.",
        )

    def handle(self, *args, **options) -> None:
        algorithm = settings.JWT_ALGORITHM
        if algorithm == keys.HMAC_ALGORITHM:
            raise CommandError(
                "JWT_ALGORITHM=HS256 signs with the shared secret JWT_SIGNING_KEY: there is no key ring to rotate. "
                "Set JWT_ALGORITHM=EdDSA (or ES256, RS256) and run this command again to sign with key pairs; "
                "replacing JWT_SIGNING_KEY instead signs every client out."
            )
        now = datetime.now(UTC)
        try:
            if options["print"]:
                self._rotate_and_print(algorithm, now)
            elif settings.JWT_PRIVATE_KEYS:
                raise CommandError(
                    "The key ring comes from JWT_PRIVATE_KEYS, which this command cannot change: run it with "
                    "--print and store what it prints in JWT_PRIVATE_KEYS, then restart the workers."
                )
            else:
                self._rotate_file(Path(settings.JWT_KEYS_FILE), algorithm, now)
        except keys.KeyRingError as exc:
            raise CommandError(f"Nothing changed: {exc}") from exc
        # This process signs with the new key from now on (workers re-read the file by themselves).
        keys.key_ring_store.cache_clear()

    def _rotate_file(self, path: Path, algorithm: str, now: datetime) -> None:
        rotation = keys.rotate_key_ring_file(
            path, algorithm=algorithm, now=now, keep_verifying_for=verification_period()
        )
        self._report(rotation, self.stdout)
        self.stdout.write(
            f"Key ring written to {path} (mode 0600). Running workers pick it up within "
            f"{keys.RECHECK_SECONDS} seconds, without a restart."
        )

    def _rotate_and_print(self, algorithm: str, now: datetime) -> None:
        current = settings.JWT_PRIVATE_KEYS
        ring = keys.parse_key_ring(current, source="JWT_PRIVATE_KEYS") if current else None
        rotation = keys.rotate(ring, algorithm=algorithm, now=now, keep_verifying_for=verification_period())
        self._report(rotation, self.stderr)
        self.stderr.write("Store the key ring below in JWT_PRIVATE_KEYS and restart the workers.")
        self.stdout.write(rotation.ring.to_json(), ending="")

    def _report(self, rotation: keys.Rotation, out) -> None:
        out.write(f"New {rotation.created.algorithm} key {rotation.created.kid} signs from now on.")
        if rotation.retired is not None:
            out.write(
                f"Previous key {rotation.retired.kid} no longer signs; it verifies until "
                f"{rotation.retired.retire_at:%Y-%m-%d %H:%M:%S} UTC, when its last token has expired."
            )
        for key in rotation.dropped:
            out.write(f"Dropped key {key.kid}: every token it signed has expired.")
