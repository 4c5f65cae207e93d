"""What several account services check first: who may change a superuser, and the user row's lock."""

from accounts.models import User
from project.errors import Refused


class SuperuserProtected(Refused):
    """Only a superuser may change, deactivate, demote or end the sessions of a superuser."""

    code = "superuser_protected"


def guard_superuser(*, user: User, actor: User | None) -> None:
    """Refuse a change to a superuser by anyone but a superuser, on every surface.

    `actor=None` is the system itself (a management command run by an operator on the host).
    """
    if user.is_superuser and actor is not None and not actor.is_superuser:
        raise SuperuserProtected("Only a superuser may change a superuser's account.")


def lock_user(user: User) -> tuple[str, bool]:
    """Lock the user's row until the transaction ends and read its password hash and activation.

    Sign-in, password change and (de)activation all take this lock first, so they run one after
    the other: a sign-in either commits its session before a password change revokes every
    session, or sees the new hash and refuses.
    """
    return User.objects.select_for_update().values_list("password", "is_active").get(pk=user.pk)
