"""Accounts: the user (email is the login) and sign-in sessions with their refresh tokens."""

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts import emails


def normalize_email(email: str) -> str:
    """One spelling per mailbox: `Alice@Example.COM ` and `alice@example.com` are one account."""
    return emails.normalize_email(email)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> "User":
        # Sign-in's one read of the account also says whether a second factor is owed
        # (accounts.services.mfa.is_enrolled), so MFA costs no query of its own.
        enrolled = TOTPDevice.objects.filter(user_id=models.OuterRef("pk"), confirmed_at__isnull=False)
        return self.annotate(mfa_enrolled=models.Exists(enrolled)).get(email=normalize_email(username))

    def bulk_create(self, objs, *args, **kwargs) -> list["User"]:
        # Skips save(): normalise and fill in the skeleton here, so the UNIQUE column still holds.
        objs = list(objs)
        for user in objs:
            user.email = normalize_email(user.email)
            user.email_skeleton = emails.skeleton_digest(user.email)
        return super().bulk_create(objs, *args, **kwargs)

    def _create_user(self, email: str, password: str | None, **extra) -> "User":
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if not (extra["is_staff"] and extra["is_superuser"]):
            raise ValueError("A superuser must have is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", max_length=254, unique=True)
    email_skeleton = models.CharField(
        max_length=64,
        unique=True,
        editable=False,
        help_text="SHA-256 of the email's confusables skeleton (accounts/emails.py): no two accounts look alike.",
    )
    display_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)
    session_epoch = models.PositiveIntegerField(
        default=0, editable=False, help_text="Raised to end every browser (cookie) session at once."
    )
    email_verified = models.BooleanField(
        default=True,
        help_text="False from self-registration until the link mailed to the address is opened (docs/recovery.md).",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            # The application normalises to lower case; this holds even for raw writes.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    def validate_unique(self, exclude=None) -> None:
        """Also the skeleton's uniqueness wherever the email's is checked (the admin's user forms),
        reported on `email`: a look-alike is a form error there, not an IntegrityError."""
        checks_email = exclude is None or "email" not in exclude
        if checks_email:
            self.email_skeleton = emails.skeleton_digest(self.email)
            exclude = {*(exclude or ()), "email_skeleton"}
        super().validate_unique(exclude)  # An exact duplicate is reported there, once.
        if checks_email and User.objects.filter(email_skeleton=self.email_skeleton).exclude(pk=self.pk).exists():
            raise ValidationError({"email": ValidationError(emails.EmailConfusable().message, code="confusable")})

    # Django checks this hash on every cookie-session request; mixing in session_epoch lets
    # "log out everywhere" end browser sessions too, not only token sessions.
    def get_session_auth_hash(self) -> str:
        return self._session_hash(secret=None)

    def get_session_auth_fallback_hash(self):
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret=secret)

    def _session_hash(self, *, secret: str | None) -> str:
        return salted_hmac(
            "accounts.User.session", f"{self.password}|{self.session_epoch}", secret=secret, algorithm="sha256"
        ).hexdigest()

    def save(self, *args, **kwargs) -> None:
        self.email = normalize_email(self.email)
        self.email_skeleton = emails.skeleton_digest(self.email)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_skeleton"}
        super().save(*args, **kwargs)


class AuthSessionQuerySet(models.QuerySet):
    def active(self) -> "AuthSessionQuerySet":
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class AuthSession(models.Model):
    """One sign-in: a family of refresh tokens and the access tokens they mint (claim `sid`).

    Revoking the session refuses every token of the family on the next request.
    """

    class RevokeReason(models.TextChoices):
        LOGOUT = "logout"
        LOGOUT_ALL = "logout_all"
        PASSWORD_CHANGE = "password_change"  # noqa: S105 (a reason, not a password)
        REFRESH_REUSE = "refresh_reuse"
        DEACTIVATED = "deactivated"
        ADMIN = "admin"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_sessions")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=32, choices=RevokeReason.choices, blank=True)
    grace_answer = models.TextField(
        blank=True,
        editable=False,
        help_text="The last rotation's answer to its client's retry, sealed with the spent token (accounts/grace.py).",
    )

    objects = AuthSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="accounts_session_user_live")]

    def __str__(self) -> str:
        return f"session {self.id} of {self.user_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class RefreshTokenRecord(models.Model):
    """A refresh token that was issued: stored as a SHA-256 digest, never the raw token."""

    jti = models.CharField(max_length=64, unique=True)
    session = models.ForeignKey(AuthSession, on_delete=models.CASCADE, related_name="refresh_tokens")
    token_hash = models.CharField(max_length=64)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    grace_used_at = models.DateTimeField(
        null=True, blank=True, help_text="When the rotating client's one retry inside the grace window was answered."
    )

    def __str__(self) -> str:
        return self.jti


class SecurityEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Security events are append-only.")

    def delete(self):
        raise TypeError("Security events are append-only.")


class SecurityEvent(models.Model):
    """Append-only audit record of a security-relevant action. Never holds a password or token."""

    class Type(models.TextChoices):
        SIGN_IN = "sign_in"
        SIGN_IN_FAILED = "sign_in_failed"
        LOCKOUT = "lockout"
        REFRESH = "refresh"
        REFRESH_REUSE = "refresh_reuse"
        REFRESH_GRACE = "refresh_grace"
        LOGOUT = "logout"
        LOGOUT_ALL = "logout_all"
        SESSION_REVOKED = "session_revoked"
        PASSWORD_CHANGE = "password_change"  # noqa: S105 (an event name)
        REGISTRATION = "registration"
        ROLE_CHANGE = "role_change"
        ACTIVATION_CHANGE = "activation_change"
        PERMISSION_GRANT = "permission_grant"
        PERMISSION_REVOKE = "permission_revoke"
        PROJECT_CREATE = "project_create"
        PROJECT_UPDATE = "project_update"
        PROJECT_DELETE = "project_delete"
        ADMIN_ACTION = "admin_action"
        PASSWORD_RESET_REQUEST = "password_reset_request"  # noqa: S105 (an event name)
        PASSWORD_RESET = "password_reset"  # noqa: S105 (an event name)
        EMAIL_VERIFIED = "email_verified"
        EMAIL_CHANGE_REQUEST = "email_change_request"
        EMAIL_CHANGE = "email_change"
        MFA_ENROLMENT_STARTED = "mfa_enrolment_started"
        MFA_ENROLLED = "mfa_enrolled"
        MFA_DISABLED = "mfa_disabled"
        MFA_RESET = "mfa_reset"
        MFA_FAILED = "mfa_failed"
        MFA_RECOVERY_CODE_USED = "mfa_recovery_code_used"
        MFA_RECOVERY_CODES_REGENERATED = "mfa_recovery_codes_regenerated"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=32, choices=Type.choices)
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True, help_text="Kept if the user is deleted.")
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    detail = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = SecurityEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at", "id"], name="accounts_event_time"),
            models.Index(fields=["type", "created_at"], name="accounts_event_type_time"),
            models.Index(fields=["actor", "created_at"], name="accounts_event_actor_time"),
            models.Index(fields=["target_type", "target_id", "created_at"], name="accounts_event_target_time"),
        ]

    def __str__(self) -> str:
        return f"{self.type} by {self.actor_email or '-'} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise TypeError("Security events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Security events are append-only.")


class RateCounter(models.Model):
    """A fixed-window request counter, for rate limits when no Redis is configured.

    One atomic upsert per counted request (project/throttling.py) keeps limits exact across
    workers on the embedded default too; prune_tokens drops windows that have ended.
    """

    key = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}={self.count}"


class IdempotencyRecord(models.Model):
    """The answer to a POST sent with an `Idempotency-Key` (project/idempotency.py).

    Written in the transaction of the change it answers, so there is never one without the
    other; a replay of the key with the same body gets this answer instead of a second change.
    prune_tokens deletes records past `expires_at`.
    """

    scope = models.CharField(max_length=80, help_text="Whose key: user:<id>, or anon:<client address>.")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="Keyed hash of method, path and body.")
    status = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=2048, blank=True)
    body = models.BinaryField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="accounts_idempotency_scope_key")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


# Multi-factor sign-in (accounts/services/mfa.py writes these; docs/mfa.md).


class TOTPDevice(models.Model):
    """A user's authenticator: its TOTP secret, encrypted at rest (Fernet), and the last time step used.

    Pending until `confirmed_at` is set by a first correct code; only a confirmed device makes
    sign-in ask for a second factor. `last_used_step` refuses a code's replay within its step.
    """

    user = models.OneToOneField(User, primary_key=True, on_delete=models.CASCADE, related_name="totp_device")
    encrypted_secret = models.TextField(
        help_text="The base32 secret, Fernet-encrypted with a key derived from SECRET_KEY."
    )
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(
        null=True, blank=True, help_text="TOTP time step of the last code accepted."
    )

    def __str__(self) -> str:
        return f"TOTP of {self.user_id} ({'confirmed' if self.confirmed_at else 'pending'})"


class RecoveryCode(models.Model):
    """A single-use recovery code, stored as a keyed digest only (shown to the user once)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "digest"], name="accounts_recovery_code_unique")]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class MfaChallenge(models.Model):
    """A password accepted, the second factor still owed: what an `mfa_token` stands for.

    Stored as a digest; single-use (`used_at`), short-lived (`expires_at`), and dead after
    MFA_TOKEN_MAX_ATTEMPTS wrong codes. `password_digest` binds it to the password it followed.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="mfa_challenges")
    token_digest = models.CharField(max_length=64, unique=True)
    password_digest = models.CharField(max_length=64)
    door = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"mfa challenge {self.id} of {self.user_id}"
