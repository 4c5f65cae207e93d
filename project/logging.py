"""Logging helpers: every record carries the id of the request it belongs to."""

import logging

from project.request_id import current_request_id


class RequestIDFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True
