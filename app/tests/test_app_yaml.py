"""The app's YAML emitter: everything it writes reads back, through PyYAML, as the same data."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

# The app is a standalone package in app/ (it is what the image copies), not installed here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fullstack_agent import yamlout

TRICKY_STRINGS = [
    "plain",
    "",
    " leading space",
    "trailing space ",
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "null",
    "Null",
    "~",
    "true",
    "False",
    "1001",
    "0o17",
    "0x1F",
    "017",
    "1_000",
    "1e3",
    "1.5",
    ".5",
    ".inf",
    "-.inf",
    ".NaN",
    "1:20",
    "190:20:30",
    "2024-01-02",
    "2024-01-02T03:04:05Z",
    "key: value",
    "a #comment",
    "#hash",
    "- dash",
    "-",
    "?",
    ":",
    "[list]",
    "{map}",
    "*alias",
    "&anchor",
    "!tag",
    "|",
    ">",
    "@at",
    "`tick`",
    "%percent",
    "'single'",
    '"double"',
    "back\\slash",
    "line\nbreak",
    "tab\there",
    "cr\rlf",
    "bell\a",
    "nul\0",
    "del\x7f",
    "nel\x85",
    "sep\u2028",
    "bom\ufeff",
    "é ü ß",
    "日本語",
    "emoji 😀",
    "ghcr.io/owner/fullstack-web-runtime:latest",
    "127.0.0.1:5000/x@sha256:" + "0" * 64,
    "app.kubernetes.io/name",
    "500m",
    "4Gi",
    "/home/agent",
    "<<",
    "=",
]


@pytest.mark.parametrize("text", TRICKY_STRINGS, ids=repr)
def test_strings_round_trip_as_values_and_keys(text: str) -> None:
    doc = {"value": text, text or "empty-key-stand-in": 1, "list": [text]}
    assert yaml.safe_load(yamlout.dump(doc)) == doc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-7, "-7"),
        (1001, "1001"),
        (1.5, "1.5"),
        (1e20, "1.0e+20"),
        (float("inf"), ".inf"),
        (float("-inf"), "-.inf"),
        ("plain", "plain"),
        ("yes", '"yes"'),
        ("3000", '"3000"'),
        ("a:b", '"a:b"'),
    ],
    ids=repr,
)
def test_scalar_text(value: Any, expected: str) -> None:
    assert yamlout.scalar(value) == expected


@pytest.mark.parametrize("value", [0.1, -2.5, 1e20, 1e-7, 123456789.125], ids=repr)
def test_floats_round_trip(value: float) -> None:
    assert yaml.safe_load(yamlout.dump({"x": value})) == {"x": value}


def test_nan_reads_back_as_nan() -> None:
    loaded = yaml.safe_load(yamlout.dump({"x": float("nan")}))
    assert loaded["x"] != loaded["x"]


NESTED: list[tuple[str, Any]] = [
    ("empty-mapping", {}),
    ("empty-list", []),
    ("empty-values", {"a": {}, "b": [], "c": None}),
    ("list-of-maps", [{"a": 1, "b": [1, 2]}, {"c": {"d": "e"}}]),
    ("list-of-lists", [[1, 2], [], [[3]], ["x", {"y": [{}]}]]),
    ("map-of-lists-of-maps", {"containers": [{"name": "x", "ports": [{"containerPort": 3000}]}]}),
    ("int-keys", {1: "one", 2: ["two"]}),
    ("scalar-document", "just a string"),
]


@pytest.mark.parametrize(("name", "doc"), NESTED, ids=[n for n, _ in NESTED])
def test_nested_structures_round_trip(name: str, doc: Any) -> None:
    assert yaml.safe_load(yamlout.dump(doc)) == doc


def test_layout_is_block_style_with_indented_sequences() -> None:
    text = yamlout.dump({"spec": {"ports": [{"name": "http", "containerPort": 3000}]}, "x": []})
    assert text == ("spec:\n  ports:\n    - name: http\n      containerPort: 3000\nx: []\n")


def test_dump_all_writes_separate_documents() -> None:
    docs = [{"a": 1}, {"b": [2]}]
    assert list(yaml.safe_load_all(yamlout.dump_all(docs))) == docs


@pytest.mark.parametrize("value", [object(), b"bytes", {1.5: "float key"}, {None: 1}], ids=repr)
def test_unsupported_values_are_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        yamlout.dump({"x": value} if not isinstance(value, dict) else value)


def test_random_strings_round_trip() -> None:
    # A seeded sweep over the characters YAML treats specially, mixed with ordinary ones.
    alphabet = "aZ09 -_:#,[]{}&*!|>'\"%@`?~.=<\\/\t\n\r\x00\x1f\x7f\x85\u00a0\u2028\ufeffé😀"
    rng = random.Random(20240601)  # noqa: S311 - reproducible test data, not secrets
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        doc = {"k": text, "l": [text]}
        assert yaml.safe_load(yamlout.dump(doc)) == doc, repr(text)
