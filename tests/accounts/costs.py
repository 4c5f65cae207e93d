"""The SQL a request runs, statement by statement, for the tests that pin what sign-in and refresh cost."""

import re
from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext


def statement(sql: str) -> tuple[str, str]:
    """(verb, table) of one logged statement: enough to tell which query is which. BEGIN and
    COMMIT read as SAVEPOINT and RELEASE, their form inside a test's transaction."""
    while re.search(r"\([^()]*\)", sql):  # Subqueries and argument lists: the table is at the top level.
        sql = re.sub(r"\([^()]*\)", " ", sql)
    words = sql.replace('"', " ").split()
    verb = words[0].upper()
    if verb in {"SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK"}:
        return ({"BEGIN": "SAVEPOINT", "COMMIT": "RELEASE"}.get(verb, verb), "")
    marker = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM"}[verb]
    return verb, words[words.index(marker) + 1]


def captured(call: Callable) -> tuple[object, list[tuple[str, str]]]:
    """What `call` returns, and the statements it ran."""
    with CaptureQueriesContext(connection) as queries:
        response = call()
    return response, [statement(query["sql"]) for query in queries.captured_queries]


def without_rate_limits(statements: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The statements but any on the retired rate-limit table: the counters now live in Redis or in
    a file of their own (project/counterfile.py), never in the main database, so none should remain."""
    return [entry for entry in statements if entry[1] != "accounts_ratecounter"]


def empty_transactions(statements: list[tuple[str, str]]) -> list[int]:
    """Where a transaction opens and closes with nothing in between."""
    return [
        index
        for index in range(len(statements) - 1)
        if statements[index][0] == "SAVEPOINT" and statements[index + 1][0] == "RELEASE"
    ]
