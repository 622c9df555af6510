"""The filter plan over random stores (fixed seed, bounded examples): a page of records selected by facets
(`selection.page_pks`), followed to the end, holds exactly what a plain-Python model of the rule says:
the records with one of the asked statuses that have, with that status, a facet of every group; in pk
order, without repeats, whichever group drives each page, however small the count cap that picks the
driver, whether a probe of the first group's next records settles the page or not, and with a further
condition on the pk (`extra`) applied wherever the page stops."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from app.content import selection
from app.content.selection import FACETS, lean_page_pks, page_pks

NAMES = ["condition:a", "condition:b", "condition:c", "therapy_type:d", "therapy_type:e", "lang:en", "lang:fr"]
STATUSES = ["published", "draft", "retracted"]

records = st.dictionaries(
    keys=st.integers(1, 80),
    values=st.tuples(
        st.sampled_from(STATUSES),  # the record's status; each facet: hidden (reached through a draft)?
        st.dictionaries(st.sampled_from(NAMES), st.sampled_from([False, False, True]), min_size=2, max_size=6),
    ),
    min_size=10,
    max_size=50,
)
groups = st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True), min_size=1, max_size=3)


def expected(store, groups, statuses, narrow) -> list[int]:
    found = []
    for pk, (status, facets) in sorted(store.items()):
        shown = {name for name, hidden in facets.items() if not hidden}
        if status in statuses and all(shown & set(group) for group in groups) and narrow(pk):
            found.append(pk)
    return found


def _fill_facets(db, store) -> None:
    """The facets table holding `store`'s claims (a hidden facet stored as such), and one row of another
    resource that no claim page may show."""
    rows = [
        {"resource": "claim", "facet": name, "status": "hidden" if hidden else status, "record_pk": pk}
        for pk, (status, facets) in store.items()
        for name, hidden in facets.items()
    ]
    rows.append({"resource": "topic", "facet": NAMES[0], "status": "published", "record_pk": 1})
    with db.write() as conn:
        conn.execute(delete(FACETS))
        conn.execute(insert(FACETS), rows)


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    store=records,
    groups=groups,
    statuses=st.lists(st.sampled_from(STATUSES), min_size=1, max_size=3, unique=True),
    wanted=st.integers(1, 7),
    cap=st.integers(1, 12),
    modulus=st.sampled_from([None, 2, 3]),
    probe=st.integers(1, 30),
)
def test_pages_hold_exactly_the_modelled_records(
    empty_db, monkeypatch, store, groups, statuses, wanted, cap, modulus, probe
):
    monkeypatch.setattr(selection, "COUNT_CAP", cap)
    monkeypatch.setattr(selection, "RECOUNT_CAP", 2 * cap)
    monkeypatch.setattr(selection, "PROBE_ROWS", probe)
    _fill_facets(empty_db, store)
    extra = (lambda pk: pk % modulus != 0) if modulus else None
    model = expected(store, groups, statuses, lambda pk: modulus is None or pk % modulus != 0)
    seen: list[int] = []
    after = 0
    with empty_db.read() as conn:
        while True:
            found = page_pks(conn, "claim", groups, statuses, after=after, wanted=wanted, extra=extra)
            assert found == sorted(set(found)) and len(found) <= wanted
            assert all(pk > after for pk in found)
            seen += found
            if len(found) < wanted:
                break
            after = found[-1]
    assert seen == model


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    store=records,
    groups=st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3), min_size=1, max_size=3),
    status=st.sampled_from(STATUSES),
    wanted=st.integers(1, 7),
    cap=st.integers(1, 12),
    probe=st.integers(1, 30),
)
def test_the_driver_level_plan_holds_the_same_records(empty_db, monkeypatch, store, groups, status, wanted, cap, probe):
    """`selection.lean_page_pks` (the lean read's statements, written as text) pages through exactly the
    modelled records, and each of its pages is `page_pks`'s page, repeated values in a group and all,
    whether its probe finds the page, reaches the range's end or gives way to the counted plan."""
    monkeypatch.setattr(selection, "COUNT_CAP", cap)
    monkeypatch.setattr(selection, "RECOUNT_CAP", 2 * cap)
    monkeypatch.setattr(selection, "PROBE_ROWS", probe)
    _fill_facets(empty_db, store)
    model = expected(store, groups, [status], lambda pk: True)
    seen: list[int] = []
    after = 0
    with empty_db.read() as conn:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        execute = lambda sql, parameters: conn.exec_driver_sql(sql.replace("?", mark), parameters).all()  # noqa: E731
        while True:
            found = lean_page_pks(execute, conn.dialect.name, "claim", groups, status, after=after, wanted=wanted)
            assert found == page_pks(conn, "claim", groups, [status], after=after, wanted=wanted)
            seen += found
            if len(found) < wanted:
                break
            after = found[-1]
    assert seen == model
