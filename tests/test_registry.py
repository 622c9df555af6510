"""What varies per resource is said once, in its `ResourceSpec`: the read side, the search index and the
JSON-LD shapes read the registry instead of naming resources. These tests hold the registry's entries
to the tables and to each other, and the read-side modules to naming no resource in a branch."""

from __future__ import annotations

import ast

import pytest

from app.content.resources import FACETED, RESOURCES, ClaimCount, JsonLd, Related
from app.core.config import PROJECT_ROOT
from app.search.index import _fields

NAMES = sorted(RESOURCES)
READ_SIDE = [
    "app/content/queries.py",
    "app/content/documents.py",
    "app/content/jsonld.py",
    "app/content/facets.py",
    "app/search/index.py",
]


def resource_branches(source: str) -> list[str]:
    """Comparisons of a resource's name (`spec.name`, `resource`) with a resource named literally."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        left = node.left
        subject = (isinstance(left, ast.Attribute) and left.attr == "name" and isinstance(left.value, ast.Name)) or (
            isinstance(left, ast.Name) and left.id == "resource"
        )
        literals = [
            c.value
            for comparator in node.comparators
            for c in ([comparator] if isinstance(comparator, ast.Constant) else getattr(comparator, "elts", []))
            if isinstance(c, ast.Constant)
        ]
        if subject and any(value in RESOURCES for value in literals):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", READ_SIDE)
def test_the_read_side_names_no_resource_in_a_branch(path):
    assert resource_branches((PROJECT_ROOT / path).read_text()) == []


def test_the_branch_check_finds_branches():
    source = 'if spec.name == "therapy": pass\nif resource in ("claim", "quote"): pass\nif name == "x": pass\n'
    assert len(resource_branches(source)) == 2


def refers_to(spec_name: str, target: str, via: str) -> bool:
    """Whether `target`'s relation or link `via` points at `spec_name`."""
    other = RESOURCES[target]
    if via in other.refs:
        return other.refs[via].target == spec_name
    return via in other.links and other.links[via].target == spec_name


@pytest.mark.parametrize("name", NAMES)
def test_detail_extras_follow_relations_to_this_resource(name):
    spec = RESOURCES[name]
    for field, extra in spec.details.items():
        assert field in spec.out_schema.model_fields, field
        if isinstance(extra, Related):
            assert refers_to(name, extra.target, extra.via), field
            assert extra.order in RESOURCES[extra.target].table.c
        else:
            assert isinstance(extra, ClaimCount) and name in RESOURCES["claim"].filters


@pytest.mark.parametrize("name", NAMES)
def test_list_filters_are_facets_columns_or_derived(name):
    spec = RESOURCES[name]
    for filter_name, column in spec.column_filters.items():
        assert filter_name in spec.filters and column in spec.table.c
    if spec.derived is not None:
        assert refers_to(name, spec.derived.through, spec.derived.via)


@pytest.mark.parametrize("name", NAMES)
def test_references_and_search_read_real_columns(name):
    spec = RESOURCES[name]
    for column in spec.ref_shows + spec.ref_carries:
        assert column in spec.table.c
    if spec.search is not None:
        for field in _fields(spec.search):
            relation, _, column = field.rpartition(".")
            table = RESOURCES[spec.refs[relation].target].table if relation else spec.table
            assert column in table.c, field


def test_search_codes_are_unique_and_fit_a_row_id():
    codes = [spec.search.code for spec in RESOURCES.values() if spec.search]
    assert len(set(codes)) == len(codes) and all(0 < code < 8 for code in codes)


def test_a_json_ld_type_may_follow_a_field():
    chosen = JsonLd("MedicalTherapy", by=("type", {"diet": "LifestyleModification"}))
    assert chosen.of({"type": "diet"}) == "LifestyleModification"
    assert chosen.of({"type": "other"}) == chosen.of({}) == "MedicalTherapy"
    assert chosen.described() == "MedicalTherapy or LifestyleModification"
    assert JsonLd("Person").described() == "Person"


def test_faceted_resources_say_how_and_come_in_an_order_that_inherits_after():
    assert {name for name, spec in RESOURCES.items() if spec.facets} == set(FACETED)
    for position, name in enumerate(FACETED):
        spec = RESOURCES[name]
        for path in spec.facets.own.values():
            *relations, column = path.split(".")
            current = spec
            for relation in relations:
                current = RESOURCES[current.refs[relation].target]
            assert column in current.table.c, path
        for relation in spec.facets.inherits:
            target = spec.refs[relation].target if relation in spec.refs else spec.links[relation].target
            assert target in FACETED[:position], f"{name} inherits from {target}, which must be refreshed first"
        if spec.facets.subjects:
            assert {"conditions", "therapies"} <= set(spec.links)
