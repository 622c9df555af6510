"""Contract fuzzing: Schemathesis generates requests from the app's own OpenAPI document, valid ones and
invalid ones, for every operation (reads and writes, with an editor key), from a fixed seed, and checks
every answer: no 5xx, status codes, content types, headers and bodies as documented. A second test runs
sequences of calls (stateful).

Two checks are left out, for reasons the schema cannot express: `positive_data_acceptance` (a request the
schema allows may still be refused by a rule about data: an unknown condition or reference, a cursor this
list did not hand out, a retraction without a reason) and `negative_data_rejection` (query values are
strings on the wire, so a "boolean" the generator means as invalid, `lang=true`, is a valid language
filter). Everything else Schemathesis checks stays on. FUZZ_EXAMPLES raises the examples per operation."""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from contextlib import closing

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance  # noqa: E402

from app.auth.keys import Scope, create_key  # noqa: E402
from tests.conftest import client_for  # noqa: E402
from tests.test_hostile_input import NO_LIMITS  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))


def is_global_limit(text: str) -> bool:
    """The one finding that is by design: a generated URL over 8 KiB gets the 414 every route can answer
    (the limits table in the README), which no single operation lists."""
    return "1 distinct failure" in text and "Undocumented status code" in text and "Received: 414" in text


def is_kept_history(path: str, text: str) -> bool:
    """By design too: a deleted record's revisions stay readable (the README: `DELETE` removes a record for
    good, its revisions stay), which the stateful check for deleted resources reports."""
    return path.endswith("/revisions") and "1 distinct failure" in text and "Deleted resource still available" in text


def test_every_operation_keeps_its_contract_under_generated_input(seeded_db):
    with seeded_db.write() as conn:
        key = create_key(conn, scope=Scope.editor, name="contract-fuzz")
    with client_for(seeded_db, **NO_LIMITS) as client:
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
                    case.call_and_validate(
                        headers={"X-API-Key": key},
                        excluded_checks=[positive_data_acceptance, negative_data_rejection],
                    )

                try:
                    run()
                except Unsatisfiable:  # no invalid variant exists: an operation without parameters or body
                    continue
                except BaseException as exc:  # noqa: BLE001 - Schemathesis reports a group; collect them all
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    text = str(exc)
                    if is_global_limit(text):
                        continue
                    failures[f"{operation.method.upper()} {operation.path} ({mode.value})"] = text[:1500]
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())


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

    with client_for(seeded_db, **NO_LIMITS) as client:

        def restore() -> None:
            with closing(sqlite3.connect(path, timeout=10)) as live:
                snapshot.backup(live)
            client.app.state.response_cache.clear()  # its entries were made from content now gone

        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
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
                    case.validate_response(
                        response,
                        transport_kwargs=kwargs or None,
                        recorder=self.recorder,
                        excluded_checks=[positive_data_acceptance, negative_data_rejection],
                    )
                except BaseException as exc:  # noqa: BLE001 - Schemathesis reports a group of failures
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    text = str(exc)
                    if is_global_limit(text) or is_kept_history(case.operation.path, text):
                        return
                    failures.append(f"{case.operation.label} -> {response.status_code}:\n{text[:1500]}")

        Sequences.run(
            settings=settings(
                max_examples=max(10, EXAMPLES * 3),
                stateful_step_count=10,
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
