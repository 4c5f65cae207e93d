"""What every admin page shares: writes go through services, and a refusal changes nothing.

A service raises a DomainError (project/errors.py) for what it refuses. The admin shows its
message and writes nothing: a single form's transaction is rolled back, and a bulk action is
all-or-nothing (one refused row cancels the whole selection, and the message lists each row
refused and why), so an operator never has to work out which half of a selection went through.
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from project.errors import DomainError


def apply_all_or_nothing(
    modeladmin: admin.ModelAdmin, request: HttpRequest, items: Iterable[Any], change: Callable[[Any], object], done: str
) -> int:
    """Call `change` on every item in one transaction; if any is refused, roll all back.

    Every item is tried, so that the message names every refusal, not only the first.
    `done` is the success message, with `{count}`. Returns how many were changed (0 if refused).
    """
    refused: list[str] = []
    count = 0
    with transaction.atomic():
        for item in items:
            try:
                change(item)  # Each service is a savepoint: a refused one leaves nothing behind.
            except DomainError as error:
                refused.append(f"{item}: {error.message}")
            else:
                count += 1
        if refused:
            transaction.set_rollback(True)
    if refused:
        modeladmin.message_user(request, "Nothing was changed. Refused: " + " ".join(refused), messages.ERROR)
        return 0
    modeladmin.message_user(request, done.format(count=count), messages.SUCCESS)
    return count


class ServiceAdmin(admin.ModelAdmin):
    """A ModelAdmin whose saves and deletes call services (in `save_model`, `delete_model`).

    Django runs the add, change and delete views in a transaction; a DomainError raised by the
    service leaves it, so everything the view did (the change log too) is rolled back, and the
    operator gets the service's message on the page they came from.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            return self.refused(request, error)

    def delete_view(self, request, object_id, extra_context=None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            return self.refused(request, error)

    def changelist_view(self, request, extra_context=None) -> HttpResponse:
        # Actions run from here, Django's delete_selected among them (see delete_queryset).
        try:
            return super().changelist_view(request, extra_context)
        except DomainError as error:
            return self.refused(request, error)

    def refused(self, request: HttpRequest, error: DomainError) -> HttpResponse:
        self.message_user(request, f"Nothing was changed: {error.message}", messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    @transaction.atomic
    def delete_queryset(self, request, queryset) -> None:
        """Django's bulk delete action: the rows one by one through `delete_model`, all or nothing
        (a refusal leaves this transaction and reaches changelist_view as a message)."""
        for obj in queryset:
            self.delete_model(request, obj)
