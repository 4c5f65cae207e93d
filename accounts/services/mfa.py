"""Multi-factor sign-in: TOTP enrolment, recovery codes, the second sign-in step and its checks.

TOTP is RFC 6238 through pyotp (docs/mfa.md says why): 6 digits, 30-second steps, one step of
clock drift either way. A code is accepted once: the step it belongs to is recorded under the
device's row lock, and no code of that step or an earlier one is accepted again. Secrets are kept
encrypted (Fernet, with a key derived from SECRET_KEY as accounts/grace.py derives its own);
recovery codes and mfa_tokens are kept as digests only.

Lockout (django-axes) and the audit trail are the callers' and this module's: a wrong code is a
failed sign-in for that account, counted by the caller with `lockout_failure` (it has the request).
"""

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import MfaChallenge, RecoveryCode, SecurityEvent, TOTPDevice, User
from accounts.services.guards import guard_superuser, lock_user
from project.errors import Conflict, DomainError, Invalid, Refused

Event = SecurityEvent.Type

TOTP_DIGITS = 6
TOTP_INTERVAL = 30
TOTP_DRIFT_STEPS = 1  # A code of the step before or after is accepted (clock drift, typing time).
RECOVERY_CODE_COUNT = 10
# Unambiguous lower-case letters and digits (no 0/o, 1/l/i): 10 of them are 50 bits.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_CODE_LENGTH = 10


class MfaError(DomainError):
    """A refused second factor; `status` and `code` say which (docs/errors.md)."""


class MfaCodeInvalid(MfaError):
    """Wrong, reused or expired code (or recovery code): counted as a failed sign-in."""

    status = 401
    code = "mfa_code_invalid"


class MfaTokenInvalid(MfaError):
    """The mfa_token is unknown, used, expired or has had too many wrong codes: sign in again."""

    status = 401
    code = "mfa_token_invalid"


class MfaNotEnrolled(Conflict):
    code = "mfa_not_enrolled"


class MfaAlreadyEnrolled(Conflict):
    code = "mfa_already_enrolled"


class MfaResetOwn(Refused):
    code = "mfa_reset_self"


@dataclass(frozen=True)
class PendingEnrolment:
    secret: str
    otpauth_uri: str
    qr_code: str  # data:image/svg+xml;charset=utf-8,<svg...> (URL-encoded)


def now_seconds() -> float:
    """The clock TOTP steps are read from (time-machine moves it in tests)."""
    return time.time()


# --- Secrets at rest -------------------------------------------------------------------------------


def _fernet_for(secret_key: str) -> Fernet:
    digest = hmac.new(secret_key.encode(), b"accounts.mfa.totp-secret", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _cipher() -> MultiFernet:
    """Encrypts with SECRET_KEY; decrypts with it or any of SECRET_KEY_FALLBACKS (key rotation)."""
    return MultiFernet([_fernet_for(key) for key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)])


def _encrypt(secret: str) -> str:
    return _cipher().encrypt(secret.encode()).decode()


def _decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # SECRET_KEY changed without the old one in SECRET_KEY_FALLBACKS.
        raise MfaCodeInvalid("This authenticator can no longer be read: ask an admin to reset it.") from exc


def _digest(value: str, *, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), f"accounts.mfa:{value}".encode(), hashlib.sha256).hexdigest()


def _digests(value: str) -> list[str]:
    """The keyed digest of `value` under the current key and every fallback (first: current)."""
    return [_digest(value, secret_key=key) for key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)]


def normalize_recovery_code(raw: str) -> str:
    return "".join(ch for ch in raw.lower() if ch.isalnum())


def _new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def _store_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = _new_recovery_codes()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, digest=_digests(normalize_recovery_code(code))[0]) for code in codes
    )
    return codes


# --- Reading the state -----------------------------------------------------------------------------


def is_enrolled(user: User) -> bool:
    known = getattr(user, "mfa_enrolled", None)  # Read with the account at sign-in (UserManager).
    if known is not None:
        return known
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed_at__isnull=False).exists()


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user_id=user.pk, used_at__isnull=True).count()


def must_enrol(user: User) -> bool:
    """Whether the user holds a role of MFA_REQUIRED_FOR_ROLES and has no confirmed authenticator."""
    required = settings.MFA_REQUIRED_FOR_ROLES
    if not required or not user.is_authenticated:
        return False
    return (
        User.objects.filter(pk=user.pk, groups__name__in=required)
        .exclude(totp_device__confirmed_at__isnull=False)
        .exists()
    )


# --- Enrolment -------------------------------------------------------------------------------------


def otpauth_uri(*, secret: str, email: str) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL).provisioning_uri(
        name=email, issuer_name=settings.MFA_ISSUER
    )


def qr_data_uri(uri: str) -> str:
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


@transaction.atomic
def mfa_totp_begin(*, user: User) -> PendingEnrolment:
    """A new pending secret (replacing a pending one): shown once, confirmed by its first code."""
    lock_user(user)
    device = TOTPDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and device.confirmed_at is not None:
        raise MfaAlreadyEnrolled("An authenticator is already set up: disable it first to set up another.")
    secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends.
    TOTPDevice.objects.update_or_create(
        user=user,
        defaults={
            "encrypted_secret": _encrypt(secret),
            "created_at": timezone.now(),
            "confirmed_at": None,
            "last_used_step": None,
        },
    )
    audit.record(Event.MFA_ENROLMENT_STARTED, actor=user, target=user)
    uri = otpauth_uri(secret=secret, email=user.email)
    return PendingEnrolment(secret=secret, otpauth_uri=uri, qr_code=qr_data_uri(uri))


def _accepted_step(device: TOTPDevice, code: str) -> int | None:
    """The time step `code` belongs to, if it is valid now and newer than the last one used."""
    if not (len(code) == TOTP_DIGITS and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(_decrypt(device.encrypted_secret), digits=TOTP_DIGITS, interval=TOTP_INTERVAL)
    current = int(now_seconds() // TOTP_INTERVAL)
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if device.last_used_step is not None and step <= device.last_used_step:
                return None  # A replay, or a code older than one already used.
            return step
    return None


@transaction.atomic
def mfa_totp_confirm(*, user: User, code: str) -> list[str]:
    """Activate the pending authenticator with a code from it; the 10 recovery codes, shown once."""
    lock_user(user)
    device = TOTPDevice.objects.select_for_update().filter(user=user).first()
    if device is None:
        raise MfaNotEnrolled("Start with POST auth/mfa/totp/ to get a secret, then confirm a code from it.")
    if device.confirmed_at is not None:
        raise MfaAlreadyEnrolled("This authenticator is already confirmed.")
    step = _accepted_step(device, code)
    if step is None:
        raise Invalid("The code is not correct: check the authenticator's clock and try the next code.", field="code")
    device.confirmed_at = timezone.now()
    device.last_used_step = step
    device.save(update_fields=["confirmed_at", "last_used_step"])
    codes = _store_recovery_codes(user)
    audit.record(Event.MFA_ENROLLED, actor=user, target=user, detail={"recovery_codes": len(codes)})
    return codes


# --- Checking a second factor ----------------------------------------------------------------------


def _use_factor(*, user: User, code: str = "", recovery_code: str = "") -> str | None:
    """Consume a TOTP code or a recovery code of `user` (in the caller's transaction, rows locked).

    The method used ("totp" or "recovery_code"), or None when neither is right.
    """
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        return None
    if code:
        step = _accepted_step(device, code)
        if step is None:
            return None
        device.last_used_step = step
        device.save(update_fields=["last_used_step"])
        return "totp"
    if recovery_code:
        normalized = normalize_recovery_code(recovery_code)
        if len(normalized) != RECOVERY_CODE_LENGTH:
            return None
        found = (
            RecoveryCode.objects.select_for_update()
            .filter(user=user, digest__in=_digests(normalized), used_at__isnull=True)
            .first()
        )
        if found is None:
            return None
        found.used_at = timezone.now()
        found.save(update_fields=["used_at"])
        audit.record(Event.MFA_RECOVERY_CODE_USED, actor=user, target=user, detail={"left": recovery_codes_left(user)})
        return "recovery_code"
    return None


def mfa_verify(*, user: User, code: str = "", recovery_code: str = "", purpose: str) -> str:
    """Check and consume a second factor of `user` (a step-up, a disable): the method, or MfaCodeInvalid.

    A wrong code is audited (mfa_failed) and committed even though this raises; the caller counts
    it towards the lockout.
    """
    with transaction.atomic():
        lock_user(user)
        method = _use_factor(user=user, code=code, recovery_code=recovery_code)
        if method is None:
            audit.record(Event.MFA_FAILED, actor=user, target=user, detail={"purpose": purpose})
    if method is None:
        raise MfaCodeInvalid("The code is not correct, or was already used.")
    return method


# --- The second sign-in step -----------------------------------------------------------------------


def _password_digest(password_hash: str) -> str:
    return _digest(password_hash, secret_key=settings.SECRET_KEY)


@transaction.atomic
def mfa_challenge_start(*, user: User, door: str) -> str:
    """The password was right and the account has a second factor: a single-use mfa_token for it."""
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    MfaChallenge.objects.create(
        user=user,
        token_digest=hashlib.sha256(raw.encode()).hexdigest(),
        password_digest=_password_digest(user.password),
        door=door,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.MFA_TOKEN_LIFETIME),
    )
    return raw


def mfa_challenge_user(*, raw_token: str) -> User | None:
    """Whose live mfa_token this is (read only: the lockout is checked for that account first)."""
    challenge = (
        MfaChallenge.objects.select_related("user")
        .filter(token_digest=hashlib.sha256(raw_token.encode()).hexdigest())
        .first()
    )
    if challenge is None or not _challenge_live(challenge):
        return None
    return challenge.user


def _challenge_live(challenge: MfaChallenge) -> bool:
    return (
        challenge.used_at is None
        and challenge.expires_at > timezone.now()
        and challenge.failed_attempts < settings.MFA_TOKEN_MAX_ATTEMPTS
        and challenge.user.is_active
    )


def mfa_challenge_complete(*, raw_token: str, code: str = "", recovery_code: str = "") -> tuple[User, str]:
    """Spend the mfa_token with a right code: (user, method). The caller then starts the session.

    MfaTokenInvalid for a token that is unknown, used, expired, spent on too many wrong codes, of
    a deactivated account, or whose password changed since; MfaCodeInvalid for a wrong code (the
    attempt is counted on the token and audited, and committed).
    """
    with transaction.atomic():
        challenge = (
            MfaChallenge.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(token_digest=hashlib.sha256(raw_token.encode()).hexdigest())
            .first()
        )
        if challenge is None or not _challenge_live(challenge):
            raise MfaTokenInvalid("This mfa_token is not valid (used, expired or unknown): sign in again.")
        user = challenge.user
        user.password, is_active = lock_user(user)  # The hash as of now: a change since kills the token.
        if not is_active or not hmac.compare_digest(_password_digest(user.password), challenge.password_digest):
            raise MfaTokenInvalid("This mfa_token is not valid (used, expired or unknown): sign in again.")
        method = _use_factor(user=user, code=code, recovery_code=recovery_code)
        if method is None:
            challenge.failed_attempts += 1
            challenge.save(update_fields=["failed_attempts"])
            audit.record(
                Event.MFA_FAILED,
                target=user,
                detail={"purpose": "sign_in", "via": challenge.door, "attempt": challenge.failed_attempts},
            )
        else:
            challenge.used_at = timezone.now()
            challenge.save(update_fields=["used_at"])
    if method is None:
        raise MfaCodeInvalid("The code is not correct, or was already used.")
    return user, method


# --- Disable, regenerate, reset --------------------------------------------------------------------


@transaction.atomic
def mfa_disable(*, user: User) -> None:
    """Remove the user's authenticator and recovery codes. The caller has checked a step-up credential."""
    lock_user(user)
    if not TOTPDevice.objects.filter(user=user).exists():
        raise MfaNotEnrolled("No authenticator is set up.")
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    audit.record(Event.MFA_DISABLED, actor=user, target=user)


@transaction.atomic
def mfa_recovery_codes_regenerate(*, user: User) -> list[str]:
    """Ten new recovery codes; the old ones stop working. The caller has checked a step-up credential."""
    lock_user(user)
    if not is_enrolled(user):
        raise MfaNotEnrolled("No authenticator is set up.")
    codes = _store_recovery_codes(user)
    audit.record(Event.MFA_RECOVERY_CODES_REGENERATED, actor=user, target=user)
    return codes


@transaction.atomic
def mfa_reset(*, user: User, actor: User) -> None:
    """An admin removes another user's second factor (a lost phone and lost codes). Never one's own:
    that is mfa_disable, with a code or the password."""
    if user.pk == actor.pk:
        raise MfaResetOwn("You cannot reset your own MFA here: disable it yourself with a code or your password.")
    guard_superuser(user=user, actor=actor)
    lock_user(user)
    existed = TOTPDevice.objects.filter(user=user).exists()
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    MfaChallenge.objects.filter(user=user, used_at__isnull=True).update(used_at=timezone.now())
    audit.record(Event.MFA_RESET, actor=actor, target=user, detail={"had_authenticator": existed})
