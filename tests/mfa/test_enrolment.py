"""Enrolment over HTTP: a secret (URI, QR code) kept encrypted, confirmed by a real code, 10 recovery codes."""

import base64
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest

from accounts.models import RecoveryCode, SecurityEvent, TOTPDevice
from tests.helpers import assert_problem, assert_validation_problem, bearer, sign_in
from tests.mfa.conftest import CONFIRM_URL, ENROL_URL, STATUS_URL, enrol

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(clock, alice):
    return bearer(sign_in()["access"])


def test_can_start_enrolment_and_get_a_secret_uri_and_qr_code(client, alice):
    response = client.post(ENROL_URL)

    assert response.status_code == 201
    body = response.json()
    uri = urlparse(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path == "/Gatehouse:alice%40example.com"
    assert parse_qs(uri.query) == {"secret": [body["secret"]], "issuer": ["Gatehouse"]}
    assert len(base64.b32decode(body["secret"])) == 20
    prefix = "data:image/svg+xml;charset=utf-8,"
    assert body["qr_code"].startswith(prefix)
    assert unquote(body["qr_code"].removeprefix(prefix)).startswith("<svg")


def test_the_pending_secret_is_stored_encrypted(client, alice):
    secret = client.post(ENROL_URL).json()["secret"]

    stored = TOTPDevice.objects.get(user=alice)
    assert secret not in stored.encrypted_secret
    assert stored.confirmed_at is None


def test_starting_again_replaces_a_pending_secret(client, alice):
    first = client.post(ENROL_URL).json()["secret"]
    second = client.post(ENROL_URL).json()["secret"]

    assert first != second
    assert TOTPDevice.objects.filter(user=alice).count() == 1
    response = client.post(CONFIRM_URL, {"code": pyotp.TOTP(first).now()})
    assert_validation_problem(response, ("code", "invalid"))


def test_can_confirm_with_a_real_code_and_get_ten_single_use_recovery_codes(client, alice):
    person = enrol(client, alice)

    assert len(person.recovery_codes) == 10
    assert len(set(person.recovery_codes)) == 10
    stored = list(RecoveryCode.objects.filter(user=alice).values_list("digest", flat=True))
    assert len(stored) == 10
    assert not {code.replace("-", "") for code in person.recovery_codes} & set(stored)
    assert TOTPDevice.objects.get(user=alice).confirmed_at is not None
    assert SecurityEvent.objects.filter(type="mfa_enrolled", target_id=str(alice.pk)).count() == 1
    assert client.get(STATUS_URL).json() == {
        "enrolled": True,
        "pending": False,
        "recovery_codes_left": 10,
        "required": False,
    }


def test_cannot_confirm_with_a_wrong_code_and_nothing_changes(client, alice):
    secret = client.post(ENROL_URL).json()["secret"]
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"

    assert_validation_problem(client.post(CONFIRM_URL, {"code": wrong}), ("code", "invalid"))
    assert TOTPDevice.objects.get(user=alice).confirmed_at is None
    assert not RecoveryCode.objects.filter(user=alice).exists()


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", " 12345", "١٢٣٤٥٦"])
def test_cannot_confirm_with_a_malformed_code(client, code):
    client.post(ENROL_URL)

    assert_problem(client.post(CONFIRM_URL, {"code": code}), 400, "validation_error")


def test_cannot_confirm_before_starting(client):
    assert_problem(client.post(CONFIRM_URL, {"code": "123456"}), 409, "mfa_not_enrolled")


def test_cannot_start_again_once_enrolled(client, alice):
    enrol(client, alice)

    assert_problem(client.post(ENROL_URL), 409, "mfa_already_enrolled")
    assert TOTPDevice.objects.get(user=alice).confirmed_at is not None


def test_status_before_enrolment(client):
    assert client.get(STATUS_URL).json() == {
        "enrolled": False,
        "pending": False,
        "recovery_codes_left": 0,
        "required": False,
    }
    client.post(ENROL_URL)
    assert client.get(STATUS_URL).json()["pending"] is True


def test_anonymous_cannot_enrol(api):
    assert_problem(api.post(ENROL_URL), 401, "not_authenticated")
