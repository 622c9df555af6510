"""A list page costs a fixed number of queries, whatever its length: one per kind of related record (a
page that has no expert skips the expert lookup), never one per item."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

QUERY_BUDGET = 16


@pytest.fixture
def statements(seeded_db):
    seen = []

    def count(conn, cursor, statement, *args):
        if "webhook_" in statement:  # the delivery worker's polls, not the request's
            return
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


# ---- bounded filters: a cap on values, index-only checks, either plan gives the same page ----------------

FILTERED = ["/v1/claims", "/v1/topics", "/v1/quotes", "/v1/conditions", "/v1/therapies", "/v1/experts", "/v1/search"]


def _array_parameters(document, path):
    operation = document["paths"][path]["get"]
    return [p for p in operation.get("parameters", []) if p.get("schema", {}).get("type") == "array"] + [
        p
        for p in operation.get("parameters", [])
        for option in p.get("schema", {}).get("anyOf", [])
        if option.get("type") == "array"
    ]


@pytest.mark.parametrize("path", FILTERED)
def test_every_filter_declares_its_cap_and_refuses_one_more_value(seeded_db, path):
    from app.content.queries import MAX_FILTER_VALUES
    from tests.conftest import client_for

    with client_for(seeded_db) as client:
        document = client.get("/openapi.json").json()
        parameters = _array_parameters(document, path)
        assert parameters, path
        valid = {"therapy_type": "diet", "lang": "en", "status": "published"}
        for name in ("condition", "therapy", "topic", "source", "expert"):
            plural = "therapies" if name == "therapy" else name + "s"
            valid[name] = client.get(f"/v1/{plural}", params={"limit": 1}).json()["items"][0]["slug"]
        for parameter in parameters:
            schema = next(
                o for o in parameter["schema"].get("anyOf", [parameter["schema"]]) if o.get("type") == "array"
            )
            assert schema["maxItems"] == MAX_FILTER_VALUES, (path, parameter["name"])
            values = [valid[parameter["name"]]] * (MAX_FILTER_VALUES + 1)  # valid, one too many
            params = [(parameter["name"], v) for v in values] + ([("q", "gut")] if path == "/v1/search" else [])
            response = client.get(path, params=params)
            assert response.status_code == 422, (path, parameter["name"], response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert parameter["name"] in response.text


def _facet_rows(db):
    from sqlalchemy import select

    from app.content.queries import FACETS

    with db.read() as conn:
        return conn.execute(select(FACETS.c.resource, FACETS.c.facet, FACETS.c.status, FACETS.c.record_pk)).all()


@pytest.fixture
def tiny_plans(monkeypatch):
    """A count cap small enough for the seed to reach it: groups past it tie, and the driver is chosen
    among them by how many ranges each has."""
    from app.content import selection

    monkeypatch.setattr(selection, "COUNT_CAP", 4)
    monkeypatch.setattr(selection, "RECOUNT_CAP", 8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_either_plan_pages_exactly_the_records_in_every_group(seeded_db, tiny_plans, data):
    """Random AND-of-OR facet groups: the pages, followed to the end, hold exactly the records that
    have a facet of every group, in pk order, whichever group drove each page."""
    from app.content.selection import page_pks

    rows = _facet_rows(seeded_db)
    resource = data.draw(st.sampled_from(["claim", "topic", "quote"]))
    names = sorted({facet for r, facet, status, _ in rows if r == resource})
    groups = data.draw(
        st.lists(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True), min_size=1, max_size=3)
    )
    statuses = tuple(data.draw(st.sets(st.sampled_from(["published", "draft"]), min_size=1)))
    wanted = data.draw(st.integers(1, 5))
    has: dict[int, set[str]] = {}
    for r, facet, status, pk in rows:
        if r == resource and status in statuses:
            has.setdefault(pk, set()).add(facet)
    expected = sorted(pk for pk, facets in has.items() if all(facets & set(g) for g in groups))
    seen, after = [], 0
    with seeded_db.read() as conn:
        while True:
            found = page_pks(conn, resource, groups, statuses, after=after, wanted=wanted)
            assert found == sorted(found) and len(found) <= wanted
            seen += found
            if len(found) < wanted:
                break
            after = found[-1]
    assert seen == expected


def test_group_checks_seek_the_facet_index_by_record(seeded_db):
    """Every membership check is a seek of (resource, facet, status, record_pk): none scans a range."""
    from sqlalchemy import select

    from app.content.resources import RESOURCES
    from app.content.selection import membership

    claims = RESOURCES["claim"].table
    groups = [["therapy_type:diet", "therapy_type:probiotic"], ["lang:en"]]
    query = select(claims.c.pk).where(*membership("claim", groups, claims.c.pk, "published"))
    with seeded_db.read() as conn:
        if conn.dialect.name != "sqlite":
            pytest.skip("the plan text checked here is SQLite's")
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")]
    checks = [line for line in plan if " m0 " in f" {line} " or " m1 " in f" {line} "]
    assert len(checks) == 2, plan
    for line in checks:  # a seek on one of the facet indexes, every column given
        assert line.startswith("SEARCH") and "record_pk=?" in line and "facet=?" in line, plan


@pytest.mark.parametrize(
    "path",
    ["/v1/claims", "/v1/topics", "/v1/quotes", "/v1/conditions", "/v1/therapies", "/v1/experts", "/v1/search"],
)
def test_a_request_at_every_cap_costs_a_bounded_number_of_statements(seeded_db, statements, path):
    from tests.conftest import client_for

    with client_for(seeded_db) as client:
        document = client.get("/openapi.json").json()
        conditions = [c["slug"] for c in client.get("/v1/conditions", params={"limit": 100}).json()["items"]]
        therapies = [t["slug"] for t in client.get("/v1/therapies", params={"limit": 100}).json()["items"]]
        types = ["probiotic", "prebiotic", "microbiota-transplant", "diet", "lifestyle", "precision-medicine"]
        values = {"condition": conditions[:20], "therapy": therapies[:20], "therapy_type": types, "lang": ["en"]}
        names = {p["name"] for p in _array_parameters(document, path)}
        params = [(name, v) for name in names if name in values for v in values[name]]
        if path == "/v1/search":
            params.append(("q", "gut"))
        statements.clear()
        response = client.get(path, params=params + [("limit", "100")])
        assert response.status_code == 200, response.text
    # the filters' lookups, one count per group, the plan's few queries, then the page as without filters
    assert len(statements) <= QUERY_BUDGET + 2 * len(names) + 4, statements
