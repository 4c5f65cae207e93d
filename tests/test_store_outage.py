"""Redis down: the API keeps answering (rate limits fail open), revocation still holds (it is in
the database: fail closed), and /readyz stays ready while reporting the cache degraded."""

import json

import pytest

from accounts import services
from tests.helpers import ME_URL
from tests.servers import call, free_port, gunicorn

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_answers_revocation_holds_and_readyz_reports_when_redis_is_down(user):
    live = services.session_start(user=user, ip_address=None, user_agent="")
    revoked = services.session_start(user=user, ip_address=None, user_agent="")
    services.session_revoke(session=revoked.session, reason="logout")
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # Nothing listens there.

    with gunicorn(REDIS_URL=dead_redis) as base:
        anonymous = call(f"{base}/api/v1/")
        me = call(f"{base}{ME_URL}", headers={"Authorization": f"Bearer {live.access}"})
        refused = call(f"{base}{ME_URL}", headers={"Authorization": f"Bearer {revoked.access}"})
        ready = call(f"{base}/readyz")

    assert anonymous[0] == 200
    assert me[0] == 200
    assert json.loads(me[1])["email"] == user.email
    assert refused[0] == 401
    assert ready[0] == 200
    assert json.loads(ready[1])["checks"] == {"database": "ok", "cache": "degraded"}
