"""A list page costs a fixed number of queries, whatever its length: one per kind of related record (a
page that has no expert skips the expert lookup), never one per item."""

import pytest
from sqlalchemy import event

QUERY_BUDGET = 16


@pytest.fixture
def statements(seeded_db):
    seen = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SELECT PG_ADVISORY")):
            seen.append(statement)

    event.listen(seeded_db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(seeded_db.engine, "before_cursor_execute", count)


@pytest.mark.parametrize(
    "path,params",
    [
        ("/v1/claims", {}),
        ("/v1/claims", {"condition": "autoimmune-disorders"}),
        ("/v1/topics", {}),
        ("/v1/quotes", {}),
        ("/v1/conditions", {}),
        ("/v1/therapies", {"therapy_type": "diet"}),
    ],
)
def test_page_cost_does_not_grow_with_page_length(seeded_db, statements, path, params):
    from tests.conftest import client_for

    with client_for(seeded_db) as client:
        costs = []
        for limit in (1, 3, 10, 30, 100):
            statements.clear()
            response = client.get(path, params={**params, "limit": limit})
            assert response.status_code == 200
            costs.append(len(statements))
    assert max(costs) <= QUERY_BUDGET, costs
    assert costs[-2] == costs[-1], costs  # 30 and 100 items (the whole seed) cost the same
