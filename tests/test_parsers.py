"""JSON nesting depth is bounded: a 400 problem, and nothing written."""

import json

import pytest

from accounts.models import User
from project.parsers import nesting_depth
from tests.helpers import REGISTER_URL, assert_problem

pytestmark = pytest.mark.django_db


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth - 1):
        value = {"a": value}
    return {"email": "deep@example.com", "password": "a-long-enough-passphrase", "display_name": value}


def test_nesting_depth_counts_containers():
    assert nesting_depth("x") == 0
    assert nesting_depth([]) == 1
    assert nesting_depth({"a": [1, {"b": []}]}) == 4


def test_cannot_send_json_deeper_than_the_limit(api, settings):
    settings.REGISTRATION_OPEN = True
    settings.API_MAX_JSON_DEPTH = 5

    response = api.post(REGISTER_URL, json.dumps(nested(6)), content_type="application/json")

    body = assert_problem(response, 400, "parse_error")
    assert "nesting deeper than 5" in body["detail"]
    assert not User.objects.filter(email="deep@example.com").exists()


def test_can_send_json_at_the_limit_and_get_the_usual_validation(api, settings):
    settings.REGISTRATION_OPEN = True
    settings.API_MAX_JSON_DEPTH = 5

    response = api.post(REGISTER_URL, json.dumps(nested(5)), content_type="application/json")

    # Within the depth limit, the serializer answers: display_name must be a string.
    assert_problem(response, 400, "validation_error")
