"""Contract fuzzing: Schemathesis generates requests from the app's own OpenAPI document, valid ones and
invalid ones, for every operation (reads and writes, with an editor key), from a fixed seed, and checks
every answer with every check it has: no 5xx, status codes, content types, headers and bodies as
documented, schema-valid requests accepted and schema-violating ones refused, keys enforced where the
document requires one. The app runs with its default rate limits (a 429 is documented on every operation
it can reach). A second test runs sequences of calls (stateful).

What is left is listed in DELIBERATE: answers that depend on data or state no schema can describe. Each
entry says why; a finding that matches none fails the test. FUZZ_EXAMPLES raises the examples per
operation."""

from __future__ import annotations

import os
import re
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from app.auth.keys import Scope, create_key  # noqa: E402
from tests.conftest import client_for  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))


@dataclass(frozen=True)
class Deliberate:
    code: str  # Schemathesis's check code
    status: int
    detail: str  # a pattern the problem's text must match
    why: str
    path_suffix: str = ""


DELIBERATE = [
    Deliberate(
        "ST202",
        412,
        r"has changed since the version you sent in If-Match",
        "If-Match is an opaque tag: any string is well formed, only the record's current tag passes.",
    ),
    Deliberate(
        "ST202",
        422,
        r"is not a cursor this list handed out",
        "Cursors are opaque and signed by the list that hands them out; a made-up one is refused.",
    ),
    Deliberate(
        "ST202",
        422,
        r"names (an unknown|no known)",
        "A filter or a write naming a record that does not exist: the set of keys is data, not schema.",
    ),
    Deliberate(
        "ST202",
        422,
        r"point at each other in a cycle",
        "A condition may not be its own parent or ancestor (generated slugs often repeat, e.g. parent = slug): "
        "the hierarchy is data, not schema.",
    ),
    Deliberate(
        "ST202",
        422,
        r"JSON decode error|not acceptable JSON|NUL characters",
        "Text with lone surrogates or NUL bytes, which the store cannot hold; JSON Schema cannot say it.",
    ),
    Deliberate(
        "ST202",
        422,
        r"retraction_reason|only a retracted record|required when the status is retracted",
        "A reason goes with a retraction and only with one: a rule across fields (and, for a patch, the "
        "stored status) that generated clients cannot use, so it is in the descriptions instead.",
    ),
    Deliberate(
        "ST202",
        422,
        r"The body field 'url' ",
        "A webhook's URL must be https and resolve to public addresses only: what a name resolves to is the "
        "network's state, not the schema's (and in tests no name resolves at all).",
    ),
    Deliberate(
        "ST202",
        422,
        r"cannot be filtered|`since` must be given",
        "Rules across fields of a webhook body (filters apply to claims, topics and quotes; a redelivery names "
        "one delivery or a cursor): in the descriptions, as JSON Schema would make them unreadable.",
    ),
    Deliberate(
        "ST202",
        422,
        r"(icd10cm|mesh|snomedct|unknown) code (system )?'",
        "Codes are checked against their systems (CMS's ICD-10-CM tables, NLM's MeSH descriptors, SNOMED CT's "
        "check digit): which codes exist, and which can be billed, is the systems' data, not a schema.",
    ),
    Deliberate(
        "ST202",
        422,
        r"provenance names '[^']*', which is not a field|'provenance\.[^']*\[key\]' is invalid",
        "Provenance is keyed by the record's own field names: a rule between a map's keys and the shape it "
        "belongs to, stated in the description (the key pattern is `propertyNames`, which generation ignores).",
    ),
    *(
        Deliberate(
            "ST401",
            status,  # the keyed call's answer; the check's own call without (or with a wrong) key got the 429
            r"got `429 Too Many Requests`",
            "Without a key a caller spends the anonymous budget, which the generated requests before it used up "
            "(a wrong key spends it too, and past it the address's keys are refused): the documented 429 "
            "answers before the route could say 401.",
        )
        for status in (200, 201, 204)
    ),
    Deliberate(
        "ST201",
        414,
        r"may not exceed 8192 bytes",
        "A URL over 8 KiB is a 414 before any parameter is read; Schemathesis expects a 4xx it lists.",
    ),
    Deliberate(
        "ST202",
        422,
        r"is required: a code|is required with a code",
        "An Infobutton request needs a code with its code system, or text: a rule across optional parameters "
        "that a query's schema cannot state (HL7's guide states it in prose too).",
        path_suffix="/v1/infobutton",
    ),
    Deliberate(
        "ST301",
        200,
        r"",
        "A deleted record's revisions stay readable (the README: DELETE removes a record, its history stays).",
        path_suffix="/revisions",
    ),
]


def failures_of(exc: BaseException) -> list[BaseException]:
    return list(exc.exceptions) if isinstance(exc, BaseExceptionGroup) else [exc]


def why_deliberate(failure: BaseException, response, path: str) -> str | None:
    """The reason a finding is by design, or None when it is a real one."""
    code = getattr(failure, "code", None)
    text = str(failure) + " " + (getattr(response, "text", "") or "")
    for entry in DELIBERATE:
        if (
            entry.code == code
            and entry.status == response.status_code
            and path.endswith(entry.path_suffix)
            and re.search(entry.detail, text)
        ):
            return entry.why
    return None


def real_findings(exc: BaseException, response, path: str, seen: Counter) -> list[BaseException]:
    left = []
    for failure in failures_of(exc):
        why = why_deliberate(failure, response, path)
        if why is None:
            left.append(failure)
        else:
            seen[why] += 1
    return left


def test_every_operation_keeps_its_contract_under_generated_input(seeded_db):
    with seeded_db.write() as conn:
        key = create_key(conn, scope=Scope.editor, name="contract-fuzz")
    deliberate: Counter[str] = Counter()
    with client_for(seeded_db) as client:  # the default rate limits
        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
        failures: dict[str, str] = {}
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 20

        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=EXAMPLES,
                    derandomize=True,
                    database=None,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.generate],
                )
                def run(case) -> None:
                    response = case.call(headers={"X-API-Key": key})
                    try:
                        case.validate_response(response, headers={"X-API-Key": key})
                    except BaseException as exc:  # noqa: BLE001 - a group of check failures
                        if isinstance(exc, KeyboardInterrupt) or real_findings(
                            exc, response, case.operation.path, deliberate
                        ):
                            raise

                try:
                    run()
                except Unsatisfiable:  # no invalid variant exists: an operation without parameters or body
                    continue
                except BaseException as exc:  # noqa: BLE001 - Schemathesis reports a group; collect them all
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    failures[f"{operation.method.upper()} {operation.path} ({mode.value})"] = str(exc)[:1500]
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
    print("deliberate findings:", dict(deliberate))


def test_call_sequences_keep_the_contract(seeded_db):
    """Stateful: Schemathesis infers which responses feed which requests (a created record's key into its
    read, edit, revisions and delete) and runs random sequences of them. Besides the checks above, its
    stateful checks fail a created record that cannot be read and a deleted one that still can.

    Every sequence starts from the same store (Hypothesis replays sequences and needs the same answers to
    the same calls): SQLite's backup API copies a snapshot back into the live file, which it supports with
    other connections open. On PostgreSQL that would mean recreating the database under the app's pool, so
    the sequences run on SQLite; the other contract test covers every operation on both."""
    if not seeded_db.is_sqlite:
        pytest.skip("sequences restore the store between runs with SQLite's backup API")
    with seeded_db.write() as conn:
        key = create_key(conn, scope=Scope.editor, name="contract-stateful")
    path = seeded_db.engine.url.database
    snapshot = sqlite3.connect(":memory:")
    with closing(sqlite3.connect(path)) as live:
        live.backup(snapshot)

    deliberate: Counter[str] = Counter()
    with client_for(seeded_db) as client:  # the default rate limits

        def restore() -> None:
            with closing(sqlite3.connect(path, timeout=10)) as live:
                snapshot.backup(live)
            client.app.state.response_cache.clear()  # its entries were made from content now gone

        # Read-only operations that feed no other call (the Infobutton answers, the topic pages) only dilute
        # the sequences; the test above fuzzes them.
        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app).exclude(tag=["health records", "pages"])
        machine = schema.as_state_machine()
        assert schema.statistic.transitions.total > 50  # links were inferred, so sequences really chain
        answered: Counter[tuple[str, int]] = Counter()
        failures: list[str] = []

        class Sequences(machine):  # type: ignore[misc, valid-type]
            def setup(self):
                restore()

            def get_call_kwargs(self, case):
                return {"headers": {"X-API-Key": key}}

            def after_call(self, response, case):
                answered[case.operation.method.upper(), response.status_code] += 1
                super().after_call(response, case)

            def validate_response(self, response, case, additional_checks=None, **kwargs):
                # Collected, not raised: the store keeps what earlier examples wrote, so Hypothesis could
                # not replay a failing sequence to shrink it; the failure itself is what we want to read.
                try:
                    case.validate_response(response, transport_kwargs=kwargs or None, recorder=self.recorder)
                except BaseException as exc:  # noqa: BLE001 - Schemathesis reports a group of failures
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    left = real_findings(exc, response, case.operation.path, deliberate)
                    if left:
                        text = "\n".join(str(f) for f in left)
                        failures.append(f"{case.operation.label} -> {response.status_code}:\n{text[:1500]}")

        Sequences.run(
            settings=settings(
                max_examples=max(10, EXAMPLES * 3),
                # Long enough that a created record is also edited and deleted in some sequence: with 10
                # steps, whether any delete met a current If-Match depended on the order of generation.
                stateful_step_count=20,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
            )
        )
    assert not failures, "\n\n".join(failures)
    # Records were made, then edited and deleted through keys taken from earlier answers.
    assert answered["POST", 201] and answered["PATCH", 200] and answered["DELETE", 204]
    print("deliberate findings:", dict(deliberate))
