"""Email verification's two ends that registration and sign-in need: the mailed link and the check."""

from django.conf import settings

from accounts import links, mail
from accounts.models import User
from project.errors import Refused


class EmailUnverified(Refused):
    code = "email_unverified"

    def __init__(self) -> None:
        super().__init__(
            "Confirm your email address first: open the link we sent to it, or ask for a new one at "
            "POST /api/v1/auth/email/verify/resend/."
        )


def ensure_email_verified(user: User) -> None:
    """Every sign-in door asks this once the password is right (REGISTRATION_REQUIRES_VERIFICATION).

    Only after the password: the answer tells nothing to someone who does not hold it.
    """
    if settings.REGISTRATION_REQUIRES_VERIFICATION and not user.email_verified:
        raise EmailUnverified()


def send_verification(user: User) -> None:
    """Mail the verification link for the account's current email (after commit)."""
    token = links.make(links.EMAIL_VERIFICATION, user)
    mail.send(
        mail.Mail(
            "email_verification",
            to=user.email,
            context={
                "email": user.email,
                "link": links.url("verify-email", token),
                "hours": settings.EMAIL_CONFIRMATION_TIMEOUT // 3600,
                "required": settings.REGISTRATION_REQUIRES_VERIFICATION,
            },
        )
    )
