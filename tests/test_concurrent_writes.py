"""Many editors writing through the API at once: no 500, no "database is locked", and exactly the expected
final state. Each thread creates and edits its own records (every write must land, revisions contiguous)
and all threads append to one shared list by read-modify-write with If-Match, retrying on 412: a lost
update would show as a missing entry."""

from concurrent.futures import ThreadPoolExecutor

from app.editing.examples import CREATE
from tests.test_editing import make_key

THREADS = 16
EDITS = 4  # per thread, on its own condition
CLAIMS = 3  # per thread, about its own condition
APPENDS = 1  # per thread, to the shared condition


def test_concurrent_editors_lose_nothing(client, seeded_db):
    editor = make_key(seeded_db)
    statuses: list[int] = []
    shared = "/v1/conditions/dysbiosis"
    start = client.get(shared, headers=editor).json()

    def work(n: int) -> None:
        slug = f"condition-{n}"
        created = client.post("/v1/conditions", json={"slug": slug, "name": f"Condition {n}"}, headers=editor)
        statuses.append(created.status_code)
        tag = created.headers["etag"]
        for edit in range(EDITS):
            response = client.patch(
                f"/v1/conditions/{slug}",
                json={"description": f"edit {edit}"},
                headers={**editor, "If-Match": tag},
            )
            statuses.append(response.status_code)
            tag = response.headers["etag"]
        for _ in range(CLAIMS):
            body = {**CREATE["claim"], "conditions": [slug]}
            statuses.append(client.post("/v1/claims", json=body, headers=editor).status_code)
        for append in range(APPENDS):
            while True:
                read = client.get(shared, headers=editor)
                synonyms = read.json()["synonyms"] + [f"synonym {n}-{append}"]
                response = client.patch(
                    shared, json={"synonyms": synonyms}, headers={**editor, "If-Match": read.headers["etag"]}
                )
                statuses.append(response.status_code)
                if response.status_code != 412:
                    break

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, range(THREADS)))

    assert set(statuses) <= {200, 201, 412}, sorted(set(statuses))
    assert statuses.count(201) == THREADS * (1 + CLAIMS)
    assert statuses.count(200) == THREADS * (EDITS + APPENDS)

    for n in range(THREADS):
        record = client.get(f"/v1/conditions/condition-{n}", headers=editor).json()
        assert record["revision"] == 1 + EDITS and record["description"] == f"edit {EDITS - 1}"
        revisions = client.get(f"/v1/conditions/condition-{n}/revisions", headers=editor).json()["items"]
        assert [r["revision"] for r in revisions] == list(range(1 + EDITS, 0, -1))
        claims = client.get(
            "/v1/claims", params={"condition": f"condition-{n}", "status": "draft"}, headers=editor
        ).json()["items"]
        assert len(claims) == CLAIMS

    final = client.get(shared, headers=editor).json()
    added = final["synonyms"][len(start["synonyms"]) :]
    assert sorted(added) == sorted(f"synonym {n}-{a}" for n in range(THREADS) for a in range(APPENDS))
    assert final["revision"] == start["revision"] + THREADS * APPENDS
    revisions = client.get(f"{shared}/revisions", params={"limit": 100}, headers=editor).json()["items"]
    assert [r["revision"] for r in revisions] == list(range(final["revision"], 0, -1))
