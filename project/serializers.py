"""Serializer bases for every API input: unknown fields are refused, not silently ignored."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

# Unknown fields named in one answer: a body of 100,000 unknown keys gets the first few, not an
# answer of 100,000 errors (13 MB and seconds of CPU for a 2 MB request).
UNKNOWN_FIELDS_REPORTED = 20


# Reject a body that names a field this serializer does not accept for writing. DRF ignores
# unknown keys by default, so a typo or an attempt to set `owner` or `id` would pass unnoticed;
# here it is a 400 that names the field. (A comment, not a docstring: drf-spectacular would
# publish a docstring of this base as the description of every serializer without its own.)
#
# Strings must be JSON strings and booleans JSON booleans: DRF's CharField would turn 0 or 1.5 into
# "0" or "1.5", and its BooleanField 0, "yes" or "off" into a boolean, so a client that sends the
# wrong type would never learn of it.
class StrictFieldsMixin:
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name: field for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)[:UNKNOWN_FIELDS_REPORTED]
            if unknown:
                raise ValidationError(
                    {name: [ErrorDetail("This field is not accepted here.", code="unknown_field")] for name in unknown}
                )
            not_strings = sorted(
                name
                for name, field in writable.items()
                if isinstance(field, serializers.CharField)
                and name in data
                and data[name] is not None
                and not isinstance(data[name], str)
            )
            if not_strings:
                raise ValidationError(
                    {name: [ErrorDetail("Must be a string.", code="invalid")] for name in not_strings}
                )
            not_booleans = sorted(
                name
                for name, field in writable.items()
                if isinstance(field, serializers.BooleanField)
                # An HTML form (the browsable API) sends every value as text.
                and not hasattr(data, "getlist")
                and name in data
                and data[name] is not None
                and not isinstance(data[name], bool)
            )
            if not_booleans:
                raise ValidationError(
                    {name: [ErrorDetail("Must be a boolean.", code="invalid")] for name in not_booleans}
                )
        return super().to_internal_value(data)


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    pass


class BoundedListField(serializers.ListField):
    """A list whose length is checked before its items.

    DRF validates every item first and checks `max_length` afterwards, so a million bad items
    cost a million errors (seconds of CPU and tens of MB of answer) before the one that matters.
    """

    def to_internal_value(self, data: Any) -> list:
        if self.max_length is not None and isinstance(data, list) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)
