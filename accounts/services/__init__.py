"""Account and session writes: every change with side effects goes through here.

One module per concern: sessions (sign-in, token rotation, logout, revocation), users (accounts,
passwords, activation, roles, privileges), recovery (password reset, email verification and
change by mailed links), mfa (TOTP, recovery codes, the second sign-in step) and guards (the
superuser check and the user-row lock both share). Callers use `services.X` from this package.

A test that replaces a service patches the module that calls it: `services.session_start` is
called through this package (by the sign-in serializer), while a call between the submodules
(users calling sessions_revoke_all) goes to the submodule's own name.
"""

from accounts import audit
from accounts.services.guards import SuperuserProtected, guard_superuser
from accounts.services.mfa import (
    mfa_challenge_complete,
    mfa_challenge_start,
    mfa_disable,
    mfa_recovery_codes_regenerate,
    mfa_reset,
    mfa_totp_begin,
    mfa_totp_confirm,
    mfa_verify,
)
from accounts.services.recovery import (
    LinkInvalid,
    email_change_confirm,
    email_change_request,
    email_verification_resend,
    email_verify,
    password_reset_confirm,
    password_reset_request,
    password_reset_user,
)
from accounts.services.sessions import (
    SESSION_ENDED,
    IssuedTokens,
    RefreshRejected,
    SignInRejected,
    is_uuid,
    session_for_refresh_token,
    session_logout,
    session_refresh,
    session_revoke,
    session_revoke_by_admin,
    session_start,
    sessions_revoke_all,
    token_digest,
    user_logout_everywhere,
)
from accounts.services.users import (
    LastAdmin,
    user_change_password,
    user_create,
    user_register,
    user_set_active,
    user_update_access,
    user_update_privileges,
    user_update_profile,
)
from accounts.services.verification import EmailUnverified, ensure_email_verified

# `audit` is here so tests can reach the recorder every service calls (services.audit.record).
__all__ = [
    "SESSION_ENDED",
    "EmailUnverified",
    "IssuedTokens",
    "LastAdmin",
    "LinkInvalid",
    "RefreshRejected",
    "SignInRejected",
    "SuperuserProtected",
    "audit",
    "email_change_confirm",
    "email_change_request",
    "email_verification_resend",
    "email_verify",
    "ensure_email_verified",
    "guard_superuser",
    "is_uuid",
    "mfa_challenge_complete",
    "mfa_challenge_start",
    "mfa_disable",
    "mfa_recovery_codes_regenerate",
    "mfa_reset",
    "mfa_totp_begin",
    "mfa_totp_confirm",
    "mfa_verify",
    "password_reset_confirm",
    "password_reset_request",
    "password_reset_user",
    "session_for_refresh_token",
    "session_logout",
    "session_refresh",
    "session_revoke",
    "session_revoke_by_admin",
    "session_start",
    "sessions_revoke_all",
    "token_digest",
    "user_change_password",
    "user_create",
    "user_logout_everywhere",
    "user_register",
    "user_set_active",
    "user_update_access",
    "user_update_privileges",
    "user_update_profile",
]
