"""One spelling per mailbox, and no mailbox that looks like another.

Every door that takes an email (sign-in at the API, the browsable API and the admin, registration,
the user model's save) normalises it with `normalize_email`. Accounts are created only for
addresses that pass `check_email` (no invisible characters, no confusable mix of scripts), and
only if no existing account has the same `email_skeleton`: the UTS #39 skeleton, which maps each
character to the prototype it is confusable with (data from confusable_homoglyphs, the Unicode
confusables.txt). The skeleton's digest is a UNIQUE column on User, so no surface can create a
look-alike of an existing account, whatever it forgets to check.
"""

import hashlib
import unicodedata
from functools import cache

from confusable_homoglyphs import confusables
from django.contrib.auth import get_user_model

from project.errors import Invalid

LRM = "\u200e"  # confusable_homoglyphs keeps the display marks around right-to-left glyphs.


class EmailRefused(Invalid):
    """An email no account may have."""

    field = "email"


class EmailTaken(EmailRefused):
    code = "unique"

    def __init__(self, email: str) -> None:
        super().__init__("An account with this email already exists.")
        self.email = email


class EmailConfusable(EmailRefused):
    """Looks like an existing account's email. The message never names that account."""

    code = "confusable"

    def __init__(self) -> None:
        super().__init__("This email looks like the email of an existing account. Choose another.")


class EmailInvisibleCharacters(EmailRefused):
    code = "invisible_characters"

    def __init__(self) -> None:
        super().__init__("The email contains invisible or formatting characters.")


class EmailMixedScripts(EmailRefused):
    code = "mixed_scripts"

    def __init__(self) -> None:
        super().__init__("The email mixes letters of different scripts that look alike.")


def normalize_email(email: str) -> str:
    """NFKC, case fold, NFKC again (folding can leave a string that NFKC changes), strip.

    `Alice@Example.COM `, `alice@example.com` in fullwidth letters and `alice@example.com` are one
    mailbox.
    Idempotent: normalising a normalised email changes nothing.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).casefold()).strip()


def _invisible(char: str) -> bool:
    # Cf: zero-width spaces and joiners, BOM, bidi controls. Variation selectors (Mn) and the
    # combining grapheme joiner also render as nothing (Default_Ignorable_Code_Point in UTS #39).
    code = ord(char)
    return (
        unicodedata.category(char) == "Cf"
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or code in (0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0)
    )


def check_email(email: str) -> str:
    """The normalised email, or EmailRefused when no account may have it.

    Refuses invisible characters anywhere, and a local part or domain that mixes scripts with
    confusable letters (`alice` with a Cyrillic `a`), as django-registration does. Reads nothing:
    the answer does not depend on which accounts exist.
    """
    email = normalize_email(email)
    if any(_invisible(char) for char in email):
        raise EmailInvisibleCharacters()
    local, _, domain = email.rpartition("@")
    if any(confusables.is_dangerous(part) for part in (local, domain) if part):
        raise EmailMixedScripts()
    return email


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character -> the representative of its confusables.txt class.

    The library's data lists every pair both ways (source -> prototype and back), so a class is
    a star around its prototype: the member with the most links. A class of two, whose direction
    the data lost, takes its multi-character member, else its lowest code point.
    """
    classes: dict[str, set[str]] = {}
    for char, glyphs in confusables.confusables_data.items():
        members = {char.replace(LRM, "")} | {glyph["c"].replace(LRM, "") for glyph in glyphs}
        for member in list(members):
            members |= classes.get(member, set())
        for member in members:
            classes[member] = members
    prototypes: dict[str, str] = {}
    for members in {id(m): m for m in classes.values()}.values():
        links = {m: len(confusables.confusables_data.get(m, ())) for m in members}
        prototype = max(members, key=lambda m: (links[m], len(m), -ord(m[0])))
        for member in members:
            if len(member) == 1 and member != prototype:
                prototypes[member] = prototype
    return prototypes


def email_skeleton(email: str) -> str:
    """The UTS #39 skeleton of the normalised email: equal skeletons look alike.

    NFD, drop invisible characters, map each character to its prototype, NFD again.
    """
    prototypes = _prototypes()
    text = unicodedata.normalize("NFD", normalize_email(email))
    text = "".join(prototypes.get(char, char) for char in text if not _invisible(char))
    return unicodedata.normalize("NFD", text)


def skeleton_digest(email: str) -> str:
    """SHA-256 of the skeleton: the indexed, UNIQUE column (a skeleton can be several times
    longer than the email, a digest always fits)."""
    return hashlib.sha256(email_skeleton(email).encode()).hexdigest()


def check_email_available(email: str, *, exclude_pk: object = None) -> str:
    """check_email, then refuse an email that an account (other than `exclude_pk`) has or looks like.

    One query. For registration and the admin's user forms: call it before writing.
    """
    email = check_email(email)
    accounts = get_user_model().objects.filter(email_skeleton=skeleton_digest(email))
    if exclude_pk is not None:
        accounts = accounts.exclude(pk=exclude_pk)
    existing = accounts.values_list("email", flat=True).first()
    if existing == email:
        raise EmailTaken(email)
    if existing is not None:
        raise EmailConfusable()
    return email
