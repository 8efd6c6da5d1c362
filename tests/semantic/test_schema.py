"""Field types: the packaged ECS table, Elasticsearch mappings, dynamic mapping, value coercion."""

from __future__ import annotations

import dataclasses
import doctest
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from eqlite.semantic import schema as schema_module
from eqlite.semantic import types as types_module
from eqlite.semantic.schema import (
    MISSING,
    FieldInfo,
    Schema,
    SchemaError,
    coerce_for_field,
    indexed_values,
    load_es_mapping_file,
    parse_es_mapping_text,
)
from eqlite.semantic.types import (
    Family,
    coerce_boolean,
    coerce_date,
    coerce_ip,
    coerce_keyword,
    coerce_number,
    family_of,
    format_ip,
    parse_date,
    parse_date_nanos,
    version_key,
)
from tests.conftest import ROOT, shared_path

DATA_DIR = ROOT / "src" / "eqlite" / "semantic" / "data"
MS = 1_000_000  # nanoseconds per millisecond


def conformance(*parts: str) -> Path:
    return shared_path("eql-conformance", "elasticsearch", *parts)


def read_data(path: Path) -> list[dict[str, Any]]:
    # missing-events.data has // line comments, which ES's JSON parser allows.
    text = re.sub(r"^\s*//.*$", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    data: list[dict[str, Any]] = json.loads(text)
    return data


@pytest.fixture(scope="module")
def ecs() -> Schema:
    return Schema.ecs()


# ---------------------------------------------------------------------------- the packaged table

ECS_TYPES = [
    ("source.port", "long"),
    ("source.ip", "ip"),
    ("source.address", "keyword"),
    ("destination.port", "long"),
    ("@timestamp", "date"),
    ("process.command_line", "wildcard"),
    ("process.command_line.text", "match_only_text"),
    ("process.name", "keyword"),
    ("process.name.text", "match_only_text"),
    ("process.args", "keyword"),
    ("process.args_count", "long"),
    ("event.category", "keyword"),
    ("event.duration", "long"),
    ("host.id", "keyword"),
    ("process.pid", "long"),
    ("dns.question.name", "keyword"),
    ("message", "match_only_text"),
    ("data_stream.dataset", "constant_keyword"),
    ("host.cpu.usage", "scaled_float"),
    ("source.geo.location", "geo_point"),
    ("dll.pe.sections", "nested"),
    ("dll.pe.imports", "flattened"),
    ("labels", "object"),
    ("process", "object"),
    ("process.parent", "object"),
]


@pytest.mark.parametrize(("name", "es_type"), ECS_TYPES)
def test_ecs_field_type(ecs: Schema, name: str, es_type: str) -> None:
    assert ecs.field_type(name) == es_type


NON_ECS_TYPES = [
    ("winlog.event_data.TargetUserName", "keyword", "winlogbeat-*"),
    ("winlog.logon.type", "keyword", "winlogbeat-*"),
    ("powershell.file.script_block_text", "text", "winlogbeat-*"),
    ("process.parent.Ext.real.pid", "long", "logs-endpoint.events.*"),
    ("file.Ext.entropy", "long", "logs-endpoint.events.*"),
    ("process.Ext.token.integrity_level_name", "keyword", "logs-endpoint.events.*"),
    ("endgame.metadata.type", "keyword", "endgame-*"),
    ("process.Ext.relative_file_creation_time", "double", "endpoint:process"),
    ("process.Ext.session_info.id", "unsigned_long", "endpoint:process"),
    ("process.name.caseless", "keyword", "endpoint:process"),
]


@pytest.mark.parametrize(("name", "es_type", "origin"), NON_ECS_TYPES)
def test_non_ecs_field_type_and_origin(ecs: Schema, name: str, es_type: str, origin: str) -> None:
    info = ecs.field(name)
    assert info is not None
    assert (info.type, origin in info.source.split(",")) == (es_type, True)


def test_ecs_fields_win_over_non_ecs_ones(ecs: Schema) -> None:
    # non-ecs-schema.json says keyword for data_stream.dataset and url.path; ECS is kept.
    assert (ecs.field_type("data_stream.dataset"), ecs.field_type("url.path")) == (
        "constant_keyword",
        "wildcard",
    )


def test_non_ecs_fields_can_be_left_out() -> None:
    plain = Schema.ecs(include_non_ecs=False)
    assert (plain.is_known("source.port"), plain.is_known("winlog.event_data.TargetUserName")) == (
        True,
        False,
    )


def test_ecs_schema_is_open_and_mapping_schema_closed() -> None:
    assert (Schema.ecs().closed, Schema.from_mapping({"properties": {}}).closed) == (False, True)


@pytest.mark.parametrize(
    ("name", "ignore_above"),
    [("host.id", 1024), ("file.drive_letter", 1), ("url.query", 2083), ("process.command_line", None)],
)
def test_ecs_ignore_above(ecs: Schema, name: str, ignore_above: int | None) -> None:
    info = ecs.field(name)
    assert info is not None and info.ignore_above == ignore_above


@pytest.mark.parametrize(
    ("name", "is_array"),
    [
        ("event.category", True),
        ("event.type", True),
        ("process.args", True),
        ("related.ip", True),
        ("tags", True),
        ("event.action", False),
        ("process.name", False),
    ],
)
def test_ecs_normalize_array(ecs: Schema, name: str, is_array: bool) -> None:
    assert ecs.is_array(name) is is_array


def test_ecs_mapping_options(ecs: Schema) -> None:
    original, usage, labels = ecs.field("event.original"), ecs.field("host.cpu.usage"), ecs.field("labels")
    assert original is not None and usage is not None and labels is not None
    assert (original.searchable, original.doc_values) == (False, False)
    assert usage.scaling_factor == 1000.0
    assert labels.object_type == "keyword"


def test_multi_fields_of_an_ecs_field(ecs: Schema) -> None:
    subs = ecs.multi_fields("process.command_line")
    assert [(sub.name, sub.type, sub.parent) for sub in subs] == [
        ("process.command_line.text", "match_only_text", "process.command_line"),
        ("process.command_line.caseless", "keyword", "process.command_line"),
    ]


STRING_KINDS = [
    # name, keyword_like, is_text_only, exact_field
    ("process.name", True, False, "process.name"),
    ("process.command_line", True, False, "process.command_line"),
    ("data_stream.dataset", True, False, "data_stream.dataset"),
    ("message", False, True, None),
    ("process.command_line.text", False, True, None),
    ("powershell.file.script_block_text", False, True, None),
    ("source.port", False, False, None),
    ("source.ip", False, False, None),
    ("nope.nothing", False, False, None),
]


@pytest.mark.parametrize(("name", "keyword_like", "text_only", "exact"), STRING_KINDS)
def test_string_kinds(ecs: Schema, name: str, keyword_like: bool, text_only: bool, exact: str | None) -> None:
    assert (ecs.keyword_like(name), ecs.is_text_only(name), ecs.exact_field(name)) == (
        keyword_like,
        text_only,
        exact,
    )


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("source.port", Family.NUMERIC),
        ("host.cpu.usage", Family.NUMERIC),
        ("@timestamp", Family.DATE),
        ("source.ip", Family.IP),
        ("process.command_line", Family.KEYWORD),
        ("message", Family.TEXT),
        ("process.Ext.trusted", Family.BOOLEAN),
        ("labels", Family.OBJECT),
        ("dll.pe.sections", Family.NESTED),
        ("dll.pe.imports", Family.FLATTENED),
        ("source.geo.location", Family.GEO),
        ("nope", None),
    ],
)
def test_families(ecs: Schema, name: str, family: Family | None) -> None:
    assert ecs.family(name) is family


@pytest.mark.parametrize(
    ("name", "es_type", "source"),
    [
        ("labels.env", "keyword", "object_type:labels"),
        ("dll.pe.imports.name", "keyword", "flattened:dll.pe.imports"),
    ],
)
def test_children_of_typed_containers(ecs: Schema, name: str, es_type: str, source: str) -> None:
    info = ecs.field(name)
    assert info is not None and (info.type, info.source) == (es_type, source)


@pytest.mark.parametrize("name", ["process.nope", "nope", "process.name.nope", "source.port.x", ""])
def test_unknown_names(ecs: Schema, name: str) -> None:
    assert (ecs.is_known(name), ecs.field_type(name), name in ecs) == (False, None, False)


def test_packaged_tables_are_small() -> None:
    sizes = {path.name: path.stat().st_size for path in DATA_DIR.glob("*.tsv")}
    assert set(sizes) == {"ecs_types.tsv", "non_ecs_types.tsv"}
    assert sum(sizes.values()) < 1_000_000


def test_packaged_table_header_names_version_and_generator() -> None:
    head = (DATA_DIR / "ecs_types.tsv").read_text(encoding="utf-8").splitlines()[:5]
    assert head[0] == "# ECS 9.4.0 field types"
    assert any(line.startswith("# Generated by: python scripts/gen_ecs_types.py") for line in head)


def test_packaged_tables_have_no_descriptions() -> None:
    for path in DATA_DIR.glob("*.tsv"):
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line[:1] != "#"]
        assert all(len(row) in (4, 5) and re.fullmatch(r"[a-z_]+", row[1]) for row in rows), path


def test_loading_the_table_is_fast() -> None:
    load = schema_module._packaged_schema.__wrapped__  # the uncached loader
    best = min(_timed(load, True) for _ in range(3))
    assert best < 0.05, f"loading the ECS table took {best * 1000:.1f} ms"


def _timed(function: Any, *args: Any) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def test_packaged_tables_match_the_generator() -> None:
    source = shared_path("datasets", "ecs")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_ecs_types.py"), "--source", str(source), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_schemas_are_immutable(ecs: Schema) -> None:
    info = ecs.field("source.port")
    assert info is not None
    with pytest.raises(AttributeError):
        info.type = "keyword"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ecs.fields["source.port"] = info  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ecs.closed = True  # type: ignore[misc]


# ---------------------------------------------------------------------------- mappings


def test_mapping_file_drops_comments_and_fills_the_placeholder() -> None:
    text = conformance("data", "endgame-140.mapping").read_text(encoding="utf-8")
    mapping = parse_es_mapping_text(text, "wildcard")
    assert mapping["properties"]["command_line"] == {"type": "wildcard"}
    assert "wildcard" in mapping["properties"]["hostname"]["fields"]


ENDGAME = [
    # name, type, resolved name
    ("event.category", "keyword", "event_type"),
    ("event.sequence", "long", "serial_event_id"),
    ("source_address", "ip", "source_address"),
    ("@timestamp", "date", "@timestamp"),
    ("timestamp", "date", "timestamp"),
    ("serial_event_id", "long", "serial_event_id"),
    ("file_name", "text", "file_name"),
    ("file_name.keyword", "keyword", "file_name.keyword"),
    ("process_name", "keyword", "process_name"),
    ("event", "object", "event"),
]


@pytest.mark.parametrize(("name", "es_type", "resolved"), ENDGAME)
def test_endgame_mapping(name: str, es_type: str, resolved: str) -> None:
    schema = load_es_mapping_file(conformance("data", "endgame-140.mapping"))
    assert (schema.field_type(name), schema.resolve(name)) == (es_type, resolved)


def test_endgame_aliases_are_kept_as_aliases() -> None:
    schema = load_es_mapping_file(conformance("data", "endgame-140.mapping"))
    alias = schema.get("event.category")
    assert alias is not None and (alias.type, alias.alias_of, alias.family) == (
        "alias",
        "event_type",
        Family.ALIAS,
    )


@pytest.mark.parametrize(
    ("keyword_type", "exact"), [("keyword", "hostname.keyword"), ("wildcard", "hostname.wildcard")]
)
def test_text_field_compares_on_its_keyword_sub_field(keyword_type: str, exact: str) -> None:
    schema = load_es_mapping_file(conformance("data", "endgame-140.mapping"), keyword_type)
    sub = schema.field(exact)
    assert (
        schema.exact_field("hostname"),
        schema.keyword_like("hostname"),
        schema.is_text_only("hostname"),
    ) == (
        exact,
        True,
        False,
    )
    assert sub is not None and (sub.type, sub.ignore_above, sub.parent) == (keyword_type, 256, "hostname")


def test_nanos_mapping_types_the_timestamps_as_date_nanos() -> None:
    schema = load_es_mapping_file(conformance("data", "endgame-140-nanos.mapping"))
    assert (schema.field_type("@timestamp"), schema.field_type("timestamp")) == ("date_nanos", "date_nanos")


def test_extra_mapping_null_value() -> None:
    schema = load_es_mapping_file(conformance("data", "extra.mapping"))
    field = schema.field("optional_field_default_null")
    assert (
        schema.null_value("optional_field_default_null"),
        schema.null_value("optional_field_mapping_only"),
    ) == (
        "NULL",
        None,
    )
    assert field is not None
    # Event 7 holds an explicit null, indexed as "NULL"; event 8 lacks the field.
    assert (indexed_values(field, None), indexed_values(field, MISSING)) == (("NULL",), ())


def test_sample_mappings_keep_custom_date_formats_and_version() -> None:
    first = load_es_mapping_file(conformance("data", "sample1.mapping"))
    second = load_es_mapping_file(conformance("data", "sample2.mapping"))
    pretty1, pretty2 = first.field("@timestamp_pretty"), second.field("@timestamp_pretty")
    assert pretty1 is not None and pretty2 is not None
    assert (pretty1.date_format, pretty2.date_format, first.field_type("version")) == (
        "dd-MM-yyyy",
        "yyyy-MM-dd",
        "version",
    )
    # Both spell 2022-12-17, the sample join key 1671235200000 (test_sample.toml).
    assert (
        coerce_for_field(pretty1, "17-12-2022")
        == coerce_for_field(pretty2, "2022-12-17")
        == 1671235200000 * MS
    )


def test_runtime_fields_are_read() -> None:
    schema = load_es_mapping_file(conformance("data", "endgame-shard-failures.mapping"))
    broken = schema.field("broken")
    assert broken is not None and (broken.type, broken.runtime) == ("long", True)


@pytest.mark.parametrize("keyword_type", ["keyword", "wildcard"])
def test_every_conformance_mapping_loads(keyword_type: str) -> None:
    for path in sorted(conformance("data").glob("*.mapping")):
        schema = load_es_mapping_file(path, keyword_type)
        assert (schema.resolve("event.category"), schema.family("event.category")) == (
            "event_type",
            Family.KEYWORD,
        ), path.name


def test_mapping_wrappers_are_accepted() -> None:
    body = {"properties": {"a": {"type": "long"}}}
    for mapping in (body, {"mappings": body}, {"my-index": {"mappings": body}}):
        assert Schema.from_mapping(mapping).field_type("a") == "long"


def test_mapping_options() -> None:
    schema = Schema.from_mapping(
        {
            "dynamic": "strict",
            "properties": {
                "k": {"type": "keyword", "ignore_above": 8, "index": False, "doc_values": False},
                "c": {"type": "constant_keyword", "value": "prod"},
                "s": {"type": "scaled_float", "scaling_factor": 100},
                "d": {"type": "date", "format": "epoch_second"},
                "o": {"type": "object", "enabled": False, "properties": {"x": {"type": "long"}}},
                "n": {"type": "nested", "dynamic": False, "properties": {"x": {"type": "long"}}},
            },
        }
    )
    k, c, s, d, o, n = (schema.field(name) for name in "kcsdon")
    assert k is not None and (k.ignore_above, k.searchable, k.doc_values) == (8, False, False)
    assert c is not None and c.constant_value == "prod"
    assert s is not None and s.scaling_factor == 100.0
    assert d is not None and d.date_format == "epoch_second"
    assert o is not None and (o.searchable, schema.is_known("o.x")) == (False, False)
    assert n is not None and (n.dynamic, schema.field_type("n.x")) == ("false", "long")
    assert schema.dynamic == "strict"


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"a": {"type": "alias", "path": "b"}}, "points to [b], which is not mapped"),
        ({"a": {"type": "alias", "path": "o"}, "o": {"properties": {"x": {"type": "long"}}}}, "a object"),
        ({"a": {"type": "alias", "path": "b"}, "b": {"type": "alias", "path": "a"}}, "a alias"),
    ],
)
def test_bad_aliases_are_refused(properties: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=re.escape(message)):
        Schema.from_mapping({"properties": properties})


def test_bad_mapping_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.mapping"
    path.write_text('# comment\n{"properties": {', encoding="utf-8")
    with pytest.raises(SchemaError) as caught:
        load_es_mapping_file(path)
    assert str(caught.value).startswith(f"{path}: line ")


# ---------------------------------------------------------------------------- merging


def test_merge_unions_fields_and_keeps_the_first_definition() -> None:
    merged = Schema.merge(
        *(load_es_mapping_file(conformance("data", f"sample{i}.mapping")) for i in (1, 2, 3))
    )
    pretty = merged.field("@timestamp_pretty")
    assert [merged.field_type(name) for name in ("ip", "host_ip", "version", "op_sys", "os")] == [
        "ip",
        "ip",
        "version",
        "keyword",
        "keyword",
    ]
    assert pretty is not None and pretty.date_format == "dd-MM-yyyy"
    assert merged.closed


@pytest.mark.parametrize(
    ("first", "second", "merged", "conflicts"),
    [
        ("keyword", "keyword", "keyword", ()),
        ("keyword", "wildcard", "keyword", ()),
        ("constant_keyword", "wildcard", "keyword", ()),
        ("long", "integer", "conflict", ("integer", "long")),
        ("ip", "keyword", "conflict", ("ip", "keyword")),
        ("date", "date_nanos", "conflict", ("date", "date_nanos")),
    ],
)
def test_merge_types(first: str, second: str, merged: str, conflicts: tuple[str, ...]) -> None:
    a = Schema.from_mapping({"properties": {"f": {"type": first}}})
    b = Schema.from_mapping({"properties": {"f": {"type": second}}})
    field = (a | b).field("f")
    assert field is not None and (field.type, field.conflict_types) == (merged, conflicts)


def test_merge_compares_alias_targets() -> None:
    aliased = Schema.from_mapping(
        {"properties": {"t": {"type": "keyword"}, "e": {"type": "alias", "path": "t"}}}
    )
    concrete = Schema.from_mapping({"properties": {"e": {"type": "wildcard"}}})
    merged = Schema.merge(aliased, concrete)
    assert (merged.field_type("e"), merged.resolve("e")) == ("keyword", "t")


def test_merge_of_nothing_is_empty() -> None:
    assert len(Schema.merge()) == 0 == len(Schema.empty())


# ---------------------------------------------------------------------------- dynamic mapping

ENDGAME_DYNAMIC = [
    # name, type, ignore_above
    ("process_name", "text", None),
    ("process_name.keyword", "keyword", 256),
    ("serial_event_id", "long", None),
    ("timestamp", "long", None),
    ("source_address", "text", None),
    ("bytes_written_string_list", "text", None),
    ("mysterious_field", "object", None),
    ("mysterious_field.num", "long", None),
    ("mysterious_field.subarray", "object", None),
    ("mysterious_field.subarray.c.x.y", "text", None),
    ("mysterious_field.this_is_for_testing_nested_data", "text", None),
]


@pytest.mark.parametrize(("name", "es_type", "ignore_above"), ENDGAME_DYNAMIC)
def test_dynamic_mapping_of_the_endgame_data(name: str, es_type: str, ignore_above: int | None) -> None:
    schema = Schema.infer_dynamic(read_data(conformance("test_data.json")))
    field = schema.field(name)
    assert field is not None and (field.type, field.ignore_above, field.source) == (
        es_type,
        ignore_above,
        "dynamic",
    )


ENDGAME_EXPLICIT_AND_DYNAMIC = [
    ("process_name", "keyword", "mapping:endgame-140.mapping"),
    ("source_address", "ip", "mapping:endgame-140.mapping"),
    ("timestamp", "date", "mapping:endgame-140.mapping"),
    ("unique_pid", "long", "dynamic"),
    ("event_subtype_full", "text", "dynamic"),
    ("event_subtype_full.keyword", "keyword", "dynamic"),
    ("event.category", "keyword", "mapping:endgame-140.mapping"),
]


@pytest.mark.parametrize(("name", "es_type", "source"), ENDGAME_EXPLICIT_AND_DYNAMIC)
def test_explicit_mapping_wins_over_dynamic(name: str, es_type: str, source: str) -> None:
    base = load_es_mapping_file(conformance("data", "endgame-140.mapping"))
    schema = base.extend_dynamic(read_data(conformance("test_data.json")))
    field = schema.get(name)
    assert field is not None and (schema.field_type(name), field.source) == (es_type, source)
    assert schema.closed


EXTRA_DYNAMIC = [
    # name, type, date format
    ("date_tags", "date", "strict_date_optional_time"),
    ("process", "object", None),
    ("process.pid", "long", None),
    ("process.entity_id", "long", None),
    ("transID", "long", None),
    ("tags", "text", None),
    ("version", "text", None),
    ("@timestamp", "date", None),
    ("optional_field_default_null", "keyword", None),
]


@pytest.mark.parametrize(("name", "es_type", "date_format"), EXTRA_DYNAMIC)
def test_dynamic_mapping_of_the_extra_data(name: str, es_type: str, date_format: str | None) -> None:
    base = load_es_mapping_file(conformance("data", "extra.mapping"))
    schema = base.extend_dynamic(read_data(conformance("data", "extra.data")))
    field = schema.field(name)
    assert field is not None and (field.type, field.date_format) == (es_type, date_format)


def test_dynamic_mapping_of_missing_events_data() -> None:
    base = load_es_mapping_file(conformance("data", "missing-events.mapping"))
    schema = base.extend_dynamic(read_data(conformance("data", "missing-events.data")))
    assert (schema.field_type("transID"), schema.field_type("tag")) == ("long", "keyword")


DYNAMIC_VALUES: list[tuple[object, str | None]] = [
    ("plain", "text"),
    ("2015-01-01", "date"),
    ("2015-01-01T12:10:30.123456789Z", "date"),
    ("2015/09/02", "date"),
    ("2015/09/02 10:11:12 +0100", "date"),
    ("1", "text"),
    ("2015", "text"),
    ("2015-01", "text"),
    ("1.5.0", "text"),
    ("10.0.0.1", "text"),
    ("2015-13-01", "text"),
    (7, "long"),
    (2**70, "long"),
    (1.5, "float"),
    (True, "boolean"),
    ({"x": 1}, "object"),
    ([None, 3, "a"], "long"),
    ([[None], ["a"]], "text"),
    (None, None),
    ([], None),
    ([None], None),
]


@pytest.mark.parametrize(("value", "es_type"), DYNAMIC_VALUES)
def test_dynamic_type_of_a_value(value: object, es_type: str | None) -> None:
    assert Schema.infer_dynamic([{"f": value}]).field_type("f") == es_type


def test_dynamic_mapping_first_value_wins() -> None:
    schema = Schema.infer_dynamic([{"f": None}, {"f": 1}, {"f": "a"}])
    assert schema.field_type("f") == "long"


def test_dynamic_mapping_splits_dotted_keys() -> None:
    schema = Schema.infer_dynamic([{"a.b": {"c.d": 1}}])
    assert [(name, schema.field_type(name)) for name in schema.names()] == [
        ("a", "object"),
        ("a.b", "object"),
        ("a.b.c", "object"),
        ("a.b.c.d", "long"),
    ]


def test_dynamic_mapping_does_not_add_under_a_leaf() -> None:
    base = Schema.from_mapping({"properties": {"h": {"type": "keyword"}}})
    assert base.extend_dynamic([{"h.x": 1, "h": {"y": 2}}]).fields.keys() == base.fields.keys()


@pytest.mark.parametrize(("setting", "added"), [("true", True), ("false", False), ("strict", False)])
def test_dynamic_setting_of_an_object(setting: str, added: bool) -> None:
    base = Schema.from_mapping(
        {"properties": {"o": {"type": "object", "dynamic": setting, "properties": {}}}}
    )
    schema = base.extend_dynamic([{"o": {"new": 1}, "top": 2}, {"o.other": "x"}])
    assert (schema.is_known("o.new"), schema.is_known("o.other"), schema.is_known("top")) == (
        added,
        added,
        True,
    )


def test_root_dynamic_runtime_adds_runtime_fields() -> None:
    base = Schema.from_mapping({"dynamic": "runtime", "properties": {}})
    schema = base.extend_dynamic([{"s": "text", "f": 1.5, "o": {"x": 1}}])
    found = {name: (schema.fields[name].type, schema.fields[name].runtime) for name in schema.names()}
    # The object "o" is not mapped; it is listed only as the implicit parent of "o.x".
    assert found == {
        "s": ("keyword", True),
        "f": ("double", True),
        "o.x": ("long", True),
        "o": ("object", False),
    }
    assert schema.fields["o"].source == "implicit"


def test_numeric_detection() -> None:
    schema = Schema.infer_dynamic([{"i": "42", "f": "1.5", "s": "x"}], numeric_detection=True)
    assert [schema.field_type(n) for n in "ifs"] == ["long", "float", "text"]


def test_date_detection_can_be_turned_off() -> None:
    assert Schema.infer_dynamic([{"d": "2015-01-01"}], date_detection=False).field_type("d") == "text"


# ---------------------------------------------------------------------------- value coercion

NUMBERS: list[tuple[str, object, object]] = [
    ("long", 49152, 49152),
    ("long", "49152", 49152),
    ("long", "-7", -7),
    ("long", "1.9", 1),
    ("long", -1.9, -1),
    ("long", "1e3", 1000),
    ("long", " 42", None),
    ("long", "0x10", None),
    ("long", "٤٢", None),  # non-ASCII digits: Java's parsers refuse them
    ("long", "abc", None),
    ("long", "", None),
    ("long", True, None),
    ("long", [1], None),
    ("long", 2**63, None),
    ("integer", 2**31, None),
    ("short", -(2**15), -(2**15)),
    ("byte", 128, None),
    ("unsigned_long", 2**64 - 1, 2**64 - 1),
    ("unsigned_long", -1, None),
    ("double", "1.5", 1.5),
    ("double", " 2.5 ", 2.5),
    ("double", "1e3", 1000.0),
    ("double", 3, 3.0),
    ("double", "NaN", None),
    ("double", "Infinity", None),
    ("double", False, None),
    ("float", 0.1, 0.10000000149011612),
    ("float", 1e39, None),
    ("half_float", 0.1, 0.0999755859375),
    ("half_float", 70000, None),
]


@pytest.mark.parametrize(("es_type", "value", "expected"), NUMBERS)
def test_coerce_number(es_type: str, value: object, expected: object) -> None:
    result = coerce_number(es_type, value)
    assert (result, type(result)) == (expected, type(expected))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.125, 0.13), ("1.234", 1.23), (-0.125, -0.12), (1e300, (2**63 - 1) / 100), ("x", None)],
)
def test_coerce_scaled_float(value: object, expected: float | None) -> None:
    assert coerce_for_field(FieldInfo("s", "scaled_float", scaling_factor=100.0), value) == expected


IP_EQUAL = [
    ("::1", "0:0:0:0:0:0:0:1"),
    ("10.0.0.1", "::ffff:10.0.0.1"),
    ("10.0.0.1", "::ffff:a00:1"),
    ("2001:db8::1", "2001:0DB8:0000:0000:0000:0000:0000:0001"),
]


@pytest.mark.parametrize(("left", "right"), IP_EQUAL)
def test_ip_spellings_compare_equal(left: str, right: str) -> None:
    assert coerce_ip(left) == coerce_ip(right) is not None


@pytest.mark.parametrize(
    "value", ["10.0.0.256", "010.0.0.1", "fe80::1%eth0", "10.0.0", "", "host", 167772161, None]
)
def test_invalid_ips_are_not_indexed(value: object) -> None:
    assert coerce_ip(value) is None


def test_ips_sort_as_lucene_sorts_them() -> None:
    spellings = ["1::", "255.255.255.255", "::2", "10.0.0.1", "::ffff:0:0"]
    addresses = {text: coerce_ip(text) for text in spellings}
    assert None not in addresses.values()
    ordered = sorted(spellings, key=lambda text: int(addresses[text] or 0))
    assert ordered == ["::2", "::ffff:0:0", "10.0.0.1", "255.255.255.255", "1::"]


@pytest.mark.parametrize(
    ("value", "text"),
    [("::ffff:10.0.0.1", "10.0.0.1"), ("0:0:0:0:0:0:0:1", "::1"), ("2001:DB8::1", "2001:db8::1")],
)
def test_format_ip(value: str, text: str) -> None:
    address = coerce_ip(value)
    assert address is not None and format_ip(address) == text


DATES: list[tuple[str, object, str | None, int | None]] = [
    # es_type, value, format, expected epoch nanoseconds
    ("date", "1", None, 1 * MS),
    ("date", "11", None, 11 * MS),
    ("date", 1516116808349, None, 1516116808349 * MS),
    ("date", "-1", None, -1 * MS),
    ("date", "1.5", None, 1 * MS),
    ("date", "1970-01-01T00:00:00.000Z", None, 0),
    ("date", "2017-08-30T20:47:33Z", None, 1504126053000 * MS),
    ("date", "2017-08-30T20:47:33.999999Z", None, 1504126053999 * MS),
    ("date", "2017-08-30T22:47:33+02:00", None, 1504126053000 * MS),
    ("date", "2017-08-30T22:47:33+0200", None, 1504126053000 * MS),
    ("date", "2017-08-30T20:47:33", None, 1504126053000 * MS),
    ("date", "2017-08-30", None, 1504051200000 * MS),
    ("date", "2017", None, 1483228800000 * MS),
    ("date", "1969-12-31T23:59:59.999Z", None, -1 * MS),
    ("date", "2016-02-29T00:00:00Z", None, 1456704000000 * MS),
    ("date", "2017-02-29T00:00:00Z", None, None),
    ("date", "2017-08-30T24:00:00Z", None, None),
    ("date", "2017-08-30 20:47:33", None, None),
    ("date", "yesterday", None, None),
    ("date", "٢٠١٧-01-01", None, None),
    ("date", True, None, None),
    ("date", "1", "strict_date_optional_time", None),
    ("date", "1504126053", "epoch_second", 1504126053000 * MS),
    ("date", "30/08/2017 20:47", "dd/MM/yyyy HH:mm", 1504126020000 * MS),
    ("date", "Aug 30, 2017", "MMM dd, yyyy", 1504051200000 * MS),
    ("date", "17-12-2022", "dd-MM-yyyy||epoch_millis", 1671235200000 * MS),
    ("date", "5", "dd-MM-yyyy||epoch_millis", 5 * MS),
    ("date", "Wed, 30 Aug 2017 20:47:33 +0000", "EEE, dd MMM yyyy HH:mm:ss Z", 1504126053000 * MS),
    ("date", "Aug 30 2017 08:47:33 PM", "MMM dd yyyy hh:mm:ss a", 1504126053000 * MS),
    ("date", "2017-08-30T20:47:33.123Z", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", 1504126053123 * MS),
    ("date_nanos", "1974-03-03T02:22:54.294365140Z", None, 131509374294365140),
    ("date_nanos", "131509374294.365140", None, 131509374294365140),
    ("date_nanos", "131509374294", None, 131509374294 * MS),
    ("date_nanos", 1, None, 1 * MS),
    ("date_nanos", "1969-12-31T23:59:59Z", None, None),
    ("date_nanos", "2262-04-11T23:47:16.854775807Z", None, 2**63 - 1),
    ("date_nanos", "2262-04-11T23:47:16.854775808Z", None, None),
]


@pytest.mark.parametrize(("es_type", "value", "date_format", "expected"), DATES)
def test_coerce_date(es_type: str, value: object, date_format: str | None, expected: int | None) -> None:
    assert coerce_date(value, es_type, date_format) == expected


def test_conformance_nanos_literals_order_as_expected() -> None:
    # test_queries_date_nanos.toml: 54 at ...294365140 lies inside (...294209140, ...350369490).
    low, event, high = (
        parse_date_nanos(f"1974-03-03T02:22:54.{fraction}Z")
        for fraction in ("294209140", "294365140", "350369490")
    )
    assert low is not None and event is not None and high is not None and low < event < high


def test_unsupported_date_pattern_letters_are_reported() -> None:
    with pytest.raises(ValueError, match="'G'"):
        parse_date("AD 2020", "G yyyy")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("false", False),
        ("", False),
        ("True", None),
        ("yes", None),
        (1, None),
        (0, None),
        ("1", None),
    ],
)
def test_coerce_boolean(value: object, expected: bool | None) -> None:
    assert coerce_boolean(value) is expected


@pytest.mark.parametrize(
    ("value", "ignore_above", "expected"),
    [
        ("abc", None, "abc"),
        ("abc", 3, "abc"),
        ("abcd", 3, None),
        ("a😀", 2, None),
        ("a😀", 3, "a😀"),
        (42, None, "42"),
        (True, None, "true"),
        (1.5, None, "1.5"),
        ({"a": 1}, None, None),
        (None, None, None),
    ],
)
def test_coerce_keyword(value: object, ignore_above: int | None, expected: str | None) -> None:
    assert coerce_keyword(value, ignore_above) == expected


def test_ecs_keyword_ignore_above_applies() -> None:
    host_id = Schema.ecs().field("host.id")
    assert host_id is not None
    assert (coerce_for_field(host_id, "x" * 1024), coerce_for_field(host_id, "x" * 1025)) == (
        "x" * 1024,
        None,
    )


FIELD_COERCIONS: list[tuple[str, object, object]] = [
    ("source.port", "49152", 49152),
    ("source.port", "http", None),
    ("source.ip", "::1", coerce_ip("0:0:0:0:0:0:0:1")),
    ("@timestamp", "2017-08-30T20:47:33.123456Z", 1504126053123 * MS),
    ("process.Ext.trusted", "true", True),
    ("process.name", 4, "4"),
    ("message", 4, "4"),
    ("labels", {"a": "b"}, {"a": "b"}),
    ("labels", "flat", None),
]


@pytest.mark.parametrize(("name", "value", "expected"), FIELD_COERCIONS)
def test_coerce_for_ecs_fields(ecs: Schema, name: str, value: object, expected: object) -> None:
    field = ecs.field(name)
    assert field is not None and coerce_for_field(field, value) == expected


def test_indexed_values_of_arrays() -> None:
    port = FieldInfo("port", "long")
    assert indexed_values(port, [1234, "599999", None, "x", [], [7]]) == (1234, 599999, 7)
    assert indexed_values(port, []) == indexed_values(port, [None]) == indexed_values(port, None) == ()


def test_constant_keyword_always_has_its_value() -> None:
    field = FieldInfo("data_stream.type", "constant_keyword", constant_value="logs")
    assert indexed_values(field, MISSING) == indexed_values(field, "logs") == ("logs",)


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("1.2.4", "1.5.0"),
        ("1.5.0", "1.11.3"),
        ("1.2.4-SNAPSHOT", "1.2.4"),
        ("1.11.3", "bad"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-2", "1.0.0-11"),
        ("1.2", "1.2.0"),
        ("2.0.0", "20.1.0"),
        ("a", "b"),
    ],
)
def test_version_precedence(smaller: str, larger: str) -> None:
    assert version_key(smaller) < version_key(larger)


def test_distinct_versions_have_distinct_keys() -> None:
    assert version_key("1.0.0+build.1") != version_key("1.0.0")


@pytest.mark.parametrize(
    ("es_type", "family"),
    [
        ("keyword", Family.KEYWORD),
        ("constant_keyword", Family.KEYWORD),
        ("wildcard", Family.KEYWORD),
        ("text", Family.TEXT),
        ("match_only_text", Family.TEXT),
        ("unsigned_long", Family.NUMERIC),
        ("half_float", Family.NUMERIC),
        ("date_nanos", Family.DATE),
        ("ip", Family.IP),
        ("boolean", Family.BOOLEAN),
        ("version", Family.VERSION),
        ("flattened", Family.FLATTENED),
        ("geo_point", Family.GEO),
        ("ip_range", Family.RANGE),
        ("histogram", Family.OTHER),
    ],
)
def test_family_of(es_type: str, family: Family) -> None:
    assert family_of(es_type) is family


# ---------------------------------------------------------------------------- documentation


@pytest.mark.parametrize("module", [schema_module, types_module], ids=lambda module: module.__name__)
def test_docstring_examples(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert (result.failed, result.attempted > 10) == (0, True)


def test_fields_alike_but_for_the_type_of_their_null_value_keep_their_own() -> None:
    from eqlite.semantic.schema import FieldInfo, field_coercer

    assert field_coercer(FieldInfo("a", "keyword", null_value=1))(None) == "1"
    assert field_coercer(FieldInfo("b", "keyword", null_value=True))(None) == "true"
    assert field_coercer(FieldInfo("c", "long", null_value=1.0))(None) == 1
