"""Reading data/: every record validated with the API's own write shapes, every error naming its file
and field, every verbatim field checked against the source's text. Nothing is written here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from app.content.resources import RESOURCES
from app.content.schemas import SourceIn

SHARED_FILES = {"condition": "conditions.yaml", "therapy": "therapies.yaml", "expert": "experts.yaml"}
VERBATIM = {"topic": ("title", "body"), "claim": ("source_excerpt",), "quote": ("text",), "expert": ()}


@dataclass
class ImportProblem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class ImportInvalid(Exception):
    def __init__(self, problems: list[ImportProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class Dataset:
    """Everything data/ holds, as (key, validated write shape) per resource."""

    records: dict[str, list[tuple[str, BaseModel]]] = field(default_factory=lambda: {r: [] for r in RESOURCES})

    def count(self) -> dict[str, int]:
        return {resource: len(items) for resource, items in self.records.items()}


def _read_yaml(path: Path, root: Path, problems: list[ImportProblem]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(ImportProblem(str(path.relative_to(root)), "-", f"cannot be read: {exc}"))
        return None


def _validate(
    resource: str,
    raw: Any,
    where: str,
    path: str,
    problems: list[ImportProblem],
    seen: dict[str, set[str]],
    dataset: Dataset,
    extra: dict[str, Any] | None = None,
) -> BaseModel | None:
    spec = RESOURCES[resource]
    if not isinstance(raw, dict):
        problems.append(ImportProblem(path, where, f"a {resource} must be a mapping"))
        return None
    body = dict(raw)
    key = body.pop(spec.key_field, None)
    if not isinstance(key, str) or not key:
        problems.append(ImportProblem(path, f"{where}.{spec.key_field}", "is required"))
        return None
    where = f"{where}({key})"
    if key in seen[resource]:
        problems.append(ImportProblem(path, f"{where}.{spec.key_field}", f"{key!r} is used twice"))
    seen[resource].add(key)
    body.update(extra or {})
    try:
        model = spec.write_schema.model_validate(body)
    except ValidationError as exc:
        for error in exc.errors():
            location = ".".join(str(p) for p in error["loc"])
            problems.append(ImportProblem(path, f"{where}.{location}", error["msg"]))
        return None
    dataset.records[resource].append((key, model))
    return model


def _check_verbatim(
    resource: str, model: BaseModel, key: str, text: str, path: str, problems: list[ImportProblem]
) -> None:
    for name in VERBATIM.get(resource, ()):
        value = getattr(model, name)
        if value and value not in text:
            problems.append(
                ImportProblem(path, f"{resource}({key}).{name}", "is not found verbatim in the source text")
            )


def load_dataset(root: Path) -> Dataset:
    """Read and validate a data directory; raises ImportInvalid listing every problem found."""
    root = Path(root)
    problems: list[ImportProblem] = []
    dataset = Dataset()
    seen: dict[str, set[str]] = {r: set() for r in RESOURCES}
    if not root.is_dir():
        raise ImportInvalid([ImportProblem(str(root), "-", "is not a directory")])
    if not any((root / name).is_file() for name in SHARED_FILES.values()) and not any(
        (root / "sources").glob("*.yaml")
    ):
        # An empty or wrong directory is not an empty data set: nothing is imported, nothing deleted.
        expected = ", ".join([*SHARED_FILES.values(), "sources/*.yaml"])
        raise ImportInvalid([ImportProblem(str(root), "-", f"holds no data files (expected {expected})")])

    for resource, filename in SHARED_FILES.items():
        path = root / filename
        if not path.exists():
            continue
        data = _read_yaml(path, root, problems) or {}
        plural = RESOURCES[resource].plural
        items = data.get(plural, []) if isinstance(data, dict) else None
        if not isinstance(items, list):
            problems.append(ImportProblem(filename, plural, "must be a list"))
            continue
        for n, raw in enumerate(items):
            _validate(resource, raw, f"{plural}[{n}]", filename, problems, seen, dataset)

    for path in sorted((root / "sources").glob("*.yaml")):
        name = str(path.relative_to(root))
        data = _read_yaml(path, root, problems)
        if not isinstance(data, dict) or not isinstance(data.get("source"), dict):
            problems.append(ImportProblem(name, "source", "is required and must be a mapping"))
            continue
        raw_source = dict(data["source"])
        text_file = raw_source.pop("text_file", None)
        text = None
        if text_file:
            try:
                raw_text = (path.parent / text_file).read_bytes()
                text = raw_text.decode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(ImportProblem(name, "source.text_file", f"cannot be read: {exc}"))
            else:
                digest = hashlib.sha256(raw_text).hexdigest()
                if raw_source.get("text_sha256") not in (None, digest):
                    problems.append(ImportProblem(name, "source.text_sha256", f"does not match {text_file} ({digest})"))
        source = _validate("source", raw_source, "source", name, problems, seen, dataset)
        source_key = raw_source.get("slug")
        for section in ("topics", "claims", "quotes"):
            resource = section[:-1]
            items = data.get(section, [])
            if not isinstance(items, list):
                problems.append(ImportProblem(name, section, "must be a list"))
                continue
            for n, raw in enumerate(items):
                extra = {"source": source_key} if resource == "topic" and isinstance(raw, dict) else None
                if extra and isinstance(source, SourceIn) and isinstance(raw, dict):
                    extra["language"] = raw.get("language", source.language)
                model = _validate(resource, raw, f"{section}[{n}]", name, problems, seen, dataset, extra)
                if model is not None and text is not None:
                    _check_verbatim(resource, model, raw[RESOURCES[resource].key_field], text, name, problems)
    if problems:
        raise ImportInvalid(problems)
    return dataset
