"""Filters stay right when what they depend on changes: the write path moves the facets."""

from app.content.schemas import ConditionIn, TherapyIn
from app.content.store import writing


def claim_ids(client, **params):
    return {c["id"] for c in client.get("/v1/claims", params={**params, "limit": 100}).json()["items"]}


def put(db, resource, key, payload):
    with writing(db, "test") as writer:
        writer.put(resource, key, payload)


def test_a_new_parent_moves_the_claims_below_it(client, seeded_db):
    ra = claim_ids(client, condition="rheumatoid-arthritis")
    assert ra and not ra <= claim_ids(client, condition="chronic-inflammation")
    put(
        seeded_db,
        "condition",
        "rheumatoid-arthritis",
        ConditionIn(name="Rheumatoid arthritis", parent="chronic-inflammation", synonyms=["RA"]),
    )
    assert ra <= claim_ids(client, condition="chronic-inflammation")
    assert claim_ids(client, condition="rheumatoid-arthritis") == ra


def test_a_therapy_given_another_type_moves_its_claims(client, seeded_db):
    probiotics = claim_ids(client, therapy="probiotics")
    assert probiotics
    put(seeded_db, "therapy", "probiotics", TherapyIn(name="Probiotics", type="dietary-supplement"))
    assert probiotics <= claim_ids(client, therapy_type="dietary-supplement")
    assert not probiotics & claim_ids(client, therapy_type="probiotic") - claim_ids(client, therapy="prebiotics")


def test_conditions_pointing_at_each_other_in_one_batch_are_refused(seeded_db):
    import pytest

    from app.content.store import ContentError

    with pytest.raises(ContentError), writing(seeded_db, "test") as writer:
        writer.put_many(
            "condition",
            [
                ("loop-a", ConditionIn(name="A", parent="loop-b")),
                ("loop-b", ConditionIn(name="B", parent="loop-a")),
            ],
        )


def test_a_parent_that_would_make_a_cycle_is_refused(seeded_db):
    import pytest

    from app.content.store import ContentError

    with pytest.raises(ContentError, match="own ancestor"):
        put(
            seeded_db,
            "condition",
            "autoimmune-disorders",
            ConditionIn(name="Autoimmune disorders", parent="rheumatoid-arthritis"),
        )


def test_a_translation_links_to_its_original_and_lists_take_lang(client, seeded_db):
    from app.content.schemas import SourceIn, TopicIn

    with writing(seeded_db, "test") as writer:
        writer.put(
            "source",
            "microbioma-intestinal",
            SourceIn(
                title="El microbioma intestinal y los trastornos autoinmunes",
                language="es",
                translation_of="gut-microbiome-autoimmune",
            ),
        )
        writer.put(
            "topic",
            "introduccion",
            TopicIn(
                source="microbioma-intestinal",
                title="Introducción",
                summary="Resumen.",
                body="Texto.",
                language="es",
                translation_of="introduction",
                conditions=["autoimmune-disorders"],
            ),
        )
    spanish = client.get("/v1/topics", params={"lang": "es"}).json()["items"]
    assert [t["slug"] for t in spanish] == ["introduccion"]
    assert spanish[0]["translation_of"]["slug"] == "introduction"
    assert "introduccion" not in [t["slug"] for t in client.get("/v1/topics", params={"lang": "en"}).json()["items"]]
    assert [s["slug"] for s in client.get("/v1/sources", params={"lang": "es"}).json()["items"]] == [
        "microbioma-intestinal"
    ]
    both = client.get("/v1/topics", params={"condition": "autoimmune-disorders", "limit": 100}).json()["items"]
    assert {"introduction", "introduccion"} <= {t["slug"] for t in both}


def test_a_relation_named_twice_is_stored_and_logged_once(seeded_db):
    from sqlalchemy import select

    from app.content.schemas import ClaimIn
    from app.models import Change

    claim = ClaimIn(
        topic="introduction",
        text="A claim.",
        source_excerpt="The gut microbiome",
        conditions=["dysbiosis", "dysbiosis"],
        evidence={"kind": "background", "strength": "very-low"},
    )
    put(seeded_db, "claim", "twice", claim)
    with seeded_db.read() as conn:
        data = conn.execute(select(Change.__table__.c.data).where(Change.__table__.c.key == "twice")).scalar_one()
    assert data["conditions"] == ["dysbiosis"]
    put(seeded_db, "claim", "twice", claim)  # and writing it again changes nothing
    with seeded_db.read() as conn:
        assert len(conn.execute(select(Change.__table__).where(Change.__table__.c.key == "twice")).all()) == 1
