"""Token types: simplejwt's access/refresh pair, bound to a sign-in session by the `sid` claim."""

from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

SESSION_CLAIM = "sid"


class SessionAccessToken(AccessToken):
    """An access token; `sid` names the session that must still be live when it is used."""


class SessionRefreshToken(RefreshToken):
    """A refresh token; the access tokens it mints copy its `sid` and `user_id` claims."""

    access_token_class = SessionAccessToken
