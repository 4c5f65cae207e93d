"""Account recovery: password reset, email verification and email change, each by a mailed link.

The links are signed tokens bound to the account's state (accounts/links.py): single-use and
expiring without being stored. Every refusal of a link is the one LinkInvalid, whatever the
reason (forged, expired, used, replaced, account deactivated or deleted), so an answer never
tells whether an account exists. Asking for a link answers the same whether or not the email
belongs to an account, after the same database work.
"""

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts import audit, emails, links, mail
from accounts.models import SecurityEvent, User
from accounts.services.users import user_change_password
from accounts.services.verification import send_verification
from project.errors import Invalid

Event = SecurityEvent.Type


class LinkInvalid(Invalid):
    code = "link_invalid"
    field = "token"

    def __init__(self) -> None:
        super().__init__("This link is not valid: it has expired, was already used or was replaced. Ask for a new one.")


class SameEmail(Invalid):
    code = "same_email"
    field = "new_email"

    def __init__(self) -> None:
        super().__init__("This is already the account's email.")


def _user_of(link: links.Link, *, lock: bool = True) -> User:
    """The link's account, if the link still holds for it; its row locked until the transaction ends."""
    accounts = User.objects.select_for_update() if lock else User.objects.all()
    user = accounts.filter(pk=link.user_id).first()
    if user is None or not user.is_active or not link.matches(user):
        raise LinkInvalid()
    return user


def _read(purpose: links.Purpose, token: str) -> links.Link:
    try:
        return links.read(purpose, token)
    except links.LinkRefused:
        raise LinkInvalid() from None


# Password reset


@transaction.atomic
def password_reset_request(*, email: str) -> None:
    """Mail a reset link if an active account with a password has this (normalised) email.

    Both outcomes do the same database work, one read and one audit event, and the mail is
    rendered and sent after the answer (accounts/mail.py): the known path adds only signing.
    """
    user = User.objects.filter(email=email).first()
    sends = user is not None and user.is_active and user.has_usable_password()
    audit.record(Event.PASSWORD_RESET_REQUEST, target=user, detail={"email": email, "sent": sends})
    if sends:
        token = links.make(links.PASSWORD_RESET, user)
        mail.send(
            mail.Mail(
                "password_reset",
                to=user.email,
                context={
                    "email": user.email,
                    "link": links.url("reset-password", token),
                    "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
                },
            )
        )


def password_reset_user(*, token: str) -> User:
    """The account a reset token is for (unlocked, to validate the new password against); LinkInvalid otherwise."""
    return _user_of(_read(links.PASSWORD_RESET, token), lock=False)


@transaction.atomic
def password_reset_confirm(*, token: str, new_password: str) -> User:
    """Set the new password with a reset link: every session ends, the link dies with the old hash.

    The caller has validated `new_password` (Django's validators, against password_reset_user).
    The account's row is locked before the link is checked: of two uses at once, the second
    sees the new password hash and is refused. Failed sign-ins and lockout are left as they are.
    An unverified email becomes verified: the link was mailed to it.
    """
    user = _user_of(_read(links.PASSWORD_RESET, token))
    user_change_password(user=user, new_password=new_password, actor=None)
    audit.record(Event.PASSWORD_RESET, target=user)
    if not user.email_verified:  # The link came to this address: it is theirs.
        _mark_verified(user)
    return user


# Email verification


def email_verification_resend(*, email: str) -> None:
    """Mail a new verification link if an active, unverified account has this email.

    One read whatever the answer, nothing written: the caller cannot tell accounts apart.
    """
    user = User.objects.filter(email=email).first()
    if user is not None and user.is_active and not user.email_verified:
        send_verification(user)


@transaction.atomic
def email_verify(*, token: str) -> User:
    """Mark the account's email verified. The link dies with it (it was bound to the unverified state)."""
    user = _user_of(_read(links.EMAIL_VERIFICATION, token))
    _mark_verified(user)
    return user


def _mark_verified(user: User) -> None:
    user.email_verified = True
    user.save(update_fields=["email_verified"])
    audit.record(Event.EMAIL_VERIFIED, actor=user, target=user, detail={"email": user.email})


# Email change


@transaction.atomic
def email_change_request(*, user: User, new_email: str) -> None:
    """Mail a confirmation link to `new_email` and a notice to the current address.

    The caller has checked the password. The email changes only when the link is used; the
    address is checked here (so an obvious refusal is immediate) and again then.
    """
    new_email = emails.check_email_available(new_email, exclude_pk=user.pk)
    if new_email == user.email:
        raise SameEmail()
    token = links.make(links.EMAIL_CHANGE, user, email=new_email)
    hours = settings.EMAIL_CONFIRMATION_TIMEOUT // 3600
    mail.send(
        mail.Mail(
            "email_change",
            to=new_email,
            context={
                "email": new_email,
                "old_email": user.email,
                "link": links.url("confirm-email-change", token),
                "hours": hours,
            },
        )
    )
    mail.send(mail.Mail("email_change_notice", to=user.email, context={"email": user.email, "new_email": new_email}))
    audit.record(Event.EMAIL_CHANGE_REQUEST, actor=user, target=user, detail={"new_email": new_email})


@transaction.atomic
def email_change_confirm(*, token: str) -> User:
    """Change the account's email to the one the link was sent to, if still free.

    The link dies with the old email; a password change in between ends it too. The address is
    checked again (taken, or confusable with an account's, since the request): refused on `token`.
    """
    link = _read(links.EMAIL_CHANGE, token)
    user = _user_of(link)
    new_email = link.data.get("email")
    if not isinstance(new_email, str):
        raise LinkInvalid()
    old_email = user.email
    try:
        new_email = emails.check_email_available(new_email, exclude_pk=user.pk)
        user.email = new_email
        user.email_verified = True  # Opening the link proved the mailbox is theirs.
        with transaction.atomic():
            user.save(update_fields=["email", "email_verified"])
    except IntegrityError as exc:  # Taken (or a look-alike) by a concurrent change.
        raise _refused_on_token(emails.EmailTaken(new_email)) from exc
    except emails.EmailRefused as exc:
        raise _refused_on_token(exc) from exc
    audit.record(Event.EMAIL_CHANGE, actor=user, target=user, detail={"old_email": old_email, "new_email": new_email})
    return user


def _refused_on_token(exc: emails.EmailRefused) -> Invalid:
    """The address's refusal, reported on the one field the confirmation has."""
    error = Invalid(exc.message, field="token")
    error.code = exc.code
    return error
