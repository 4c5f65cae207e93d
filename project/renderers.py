"""The browsable API renderer: DRF's, with edit forms the API accepts as they are filled in."""

import json

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def get_raw_data_form(self, data, view, method, request):
        form = super().get_raw_data_form(data, view, method, request)
        if form is None or method not in ("PUT", "PATCH") or not hasattr(view, "get_serializer"):
            return form
        # DRF fills the PUT/PATCH form with the whole representation, read-only fields included;
        # our serializers refuse a field they do not accept (project.serializers.StrictFieldsMixin),
        # so the form would answer 400 as it comes. Offer the writable fields only.
        content = form.fields["_content"]
        current = json.loads(content.initial or "{}")
        writable = {name for name, field in view.get_serializer().fields.items() if not field.read_only}
        if isinstance(current, dict):
            offered = {name: value for name, value in current.items() if name in writable}
            content.initial = json.dumps(offered, indent=4, ensure_ascii=False)
        return form
