"""SQL-on-FHIR compiler: clear errors for bad views, and the features the marts rely on.

The marts (mappings/views) need extension(url).value[x], where() on coding system,
getResourceKey()/getReferenceKey(), forEach over arrays, pass-through store columns and an
idempotent materialisation; each is checked here on DuckDB and on PostgreSQL.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from transforms.terminology import systems
from transforms.warehouse.sof.compile import compile_view
from transforms.warehouse.sof.errors import (
    FhirPathSyntaxError,
    SofError,
    UnsupportedFhirPath,
    ViewDefinitionError,
    ViewRuntimeError,
)
from transforms.warehouse.sof.fhirpath import Binary, Call, Member, parse
from transforms.warehouse.sof.run import (
    create_resource_table,
    execute_sql,
    insert_resources,
    materialise_view,
    run_view,
)

ENCOUNTERS = [
    {
        "resourceType": "Encounter", "id": "e1", "status": "finished",
        "subject": {"reference": "Patient/p1"},
        "serviceProvider": {"identifier": {"system": systems.INSTITUTION_CODE, "value": "H001"}},
        "type": [{"coding": [{"system": "urn:other", "code": "x"},
                             {"system": systems.ENCOUNTER_CLASS, "code": "O"}]}],
        "reasonCode": [{"coding": [{"system": "urn:icd", "code": "I10"}]},
                       {"coding": [{"system": "urn:icd", "code": "E11.9"}]}],
        "extension": [{"url": systems.EXT_COST, "extension": [
            {"url": "total", "valueMoney": {"value": 120.5, "currency": "CNY"}},
            {"url": "drug", "valueMoney": {"value": 80, "currency": "CNY"}}]},
            {"url": systems.EXT_APPOINTMENT, "valueBoolean": True}],
        "note": "100% paid; at 08:30",
    },
    {
        "resourceType": "Encounter", "id": "e2", "status": "finished",
        "subject": {"reference": "http://example.org/fhir/Group/g9"},
        "type": [{"coding": [{"system": systems.ENCOUNTER_CLASS, "code": "I"}]}],
    },
    {"resourceType": "Patient", "id": "p1"},
]

MART_VIEW = {
    "resource": "Encounter",
    "select": [{
        "column": [
            {"name": "encounter_id", "path": "getResourceKey()"},
            {"name": "patient_key", "path": "subject.getReferenceKey(Patient)"},
            {"name": "any_key", "path": "subject.getReferenceKey()"},
            {"name": "institution_code",
             "path": f"serviceProvider.identifier.where(system='{systems.INSTITUTION_CODE}').value"},
            {"name": "encounter_class",
             "path": f"type.coding.where(system='{systems.ENCOUNTER_CLASS}').code.first()"},
            {"name": "total_cost", "type": "decimal",
             "path": f"extension('{systems.EXT_COST}').extension('total').value.ofType(Money).value"},
            {"name": "drug_cost", "type": "decimal",
             "path": f"extension('{systems.EXT_COST}').extension('drug').valueMoney.value"},
            {"name": "is_appointment", "type": "boolean",
             "path": f"extension('{systems.EXT_APPOINTMENT}').value.ofType(boolean)"},
            {"name": "n_reasons", "type": "integer", "path": "reasonCode.count()"},
            {"name": "note", "path": "note"},
        ],
        "select": [{"forEachOrNull": "reasonCode.coding",
                    "column": [{"name": "seq", "path": "%rowIndex", "type": "integer"},
                               {"name": "icd", "path": "code"}]}],
    }],
}


@pytest.fixture(params=["duckdb", "postgresql"])
def conn(request):
    if request.param == "duckdb":
        request.applymarker(pytest.mark.local)
        engine = sa.create_engine("duckdb:///:memory:")
    else:
        request.applymarker(pytest.mark.postgres)
        engine = sa.create_engine(request.getfixturevalue("pg_url"))
    with engine.connect() as c:
        create_resource_table(c)
        c.exec_driver_sql("ALTER TABLE fhir_resource ADD COLUMN person_key VARCHAR")
        insert_resources(c, ENCOUNTERS)
        c.exec_driver_sql("UPDATE fhir_resource SET person_key = 'pk-' || id")
        c.commit()
        yield c
    engine.dispose()


# ------------------------------------------------------------------ unit: parser and model errors
@pytest.mark.unit
@pytest.mark.parametrize("text", ["@@", "name.", "name.where(use = 'x'", "name[", "'unterminated"])
def test_bad_fhirpath_names_expression(text):
    with pytest.raises(FhirPathSyntaxError) as exc:
        parse(text)
    assert repr(text) in str(exc.value)


@pytest.mark.unit
def test_parser_precedence():
    tree = parse("a = 1 or b.exists() and c")
    assert isinstance(tree, Binary) and tree.op == "or"
    assert isinstance(tree.right, Binary) and tree.right.op == "and"
    assert isinstance(tree.right.left, Call) and tree.right.left.name == "exists"
    assert tree.right.left.base == Member(None, "b")


@pytest.mark.unit
@pytest.mark.parametrize(("view", "field"), [
    ({"resource": "Patient", "select": [{"forEach": 1}]}, "select[0].forEach"),
    ({"resource": "Patient", "select": [{"column": [{"name": "bad name", "path": "id"}]}]}, "select[0].column[0].name"),
    ({"select": [{"column": [{"name": "id", "path": "id"}]}]}, "resource"),
    ({"resource": "Patient", "constant": [{"name": "c"}], "select": [{}]}, "constant[0]"),
    ({"resource": "Patient", "select": [{"forEach": "a", "forEachOrNull": "b"}]}, "select[0]"),
])
def test_bad_view_names_field(view, field):
    with pytest.raises(ViewDefinitionError) as exc:
        compile_view(view, "duckdb")
    assert f"{field}:" in str(exc.value)


@pytest.mark.unit
@pytest.mark.parametrize("dialect", ["duckdb", "postgresql"])
def test_compile_errors_name_the_place(dialect):
    union = {"resource": "Patient", "select": [{"unionAll": [
        {"column": [{"name": "a", "path": "id"}]}, {"column": [{"name": "b", "path": "id"}]}]}]}
    with pytest.raises(SofError, match=r"select\[0\]\.unionAll\[1\]"):
        compile_view(union, dialect)
    undefined = {"resource": "Patient", "select": [{"column": [{"name": "a", "path": "name.where(use = %nope)"}]}]}
    with pytest.raises(SofError, match=r"column\[0\] 'a'.*%nope"):
        compile_view(undefined, dialect)
    unsupported = {"resource": "Patient", "select": [{"column": [{"name": "a", "path": "name.descendants()"}]}]}
    with pytest.raises(UnsupportedFhirPath, match="descendants"):
        compile_view(unsupported, dialect)
    syntax = {"resource": "Patient", "where": [{"path": "active = "}], "select": [{"column": [{"name": "a", "path": "id"}]}]}
    with pytest.raises(FhirPathSyntaxError, match=r"where\[0\]"):
        compile_view(syntax, dialect)


@pytest.mark.unit
def test_passthrough_and_filter_are_in_sql():
    sql = compile_view(MART_VIEW, "postgresql", source_table="fhir_store", passthrough=["person_key"],
                       where_sql="r._batch_id = 'b1'")
    assert sql.startswith('SELECT r."person_key", ') and '"encounter_id"' in sql
    assert "FROM fhir_store AS r" in sql and "(r._batch_id = 'b1')" in sql


# ------------------------------------------------------------------ local/postgres: mart features
def test_mart_features(conn):
    rows = {r["encounter_id"]: r for r in run_view(conn, MART_VIEW)}
    e1 = [r for r in run_view(conn, MART_VIEW) if r["encounter_id"] == "e1"]
    assert sorted(rows) == ["e1", "e2"]
    assert [(r["seq"], r["icd"]) for r in sorted(e1, key=lambda r: r["seq"])] == [(0, "I10"), (1, "E11.9")]
    first = e1[0]
    assert first["patient_key"] == "p1" and first["any_key"] == "p1"
    assert first["institution_code"] == "H001" and first["encounter_class"] == "O"
    assert float(first["total_cost"]) == 120.5 and float(first["drug_cost"]) == 80
    assert first["is_appointment"] is True and first["n_reasons"] == 2
    assert first["note"] == ENCOUNTERS[0]["note"]  # '%' and ':' survive both drivers
    e2 = rows["e2"]
    assert e2["patient_key"] is None and e2["any_key"] == "g9"  # a Group reference is not a Patient key
    assert e2["encounter_class"] == "I" and e2["total_cost"] is None and e2["is_appointment"] is None
    assert (e2["seq"], e2["icd"], e2["n_reasons"]) == (0, None, 0)  # forEachOrNull keeps the row


def test_passthrough_and_where_sql_run(conn):
    from transforms.warehouse.db import dialect

    view = {"resource": "Encounter", "select": [{"column": [
        {"name": "encounter_id", "path": "id"},
        {"name": "paid_in_full", "type": "boolean", "path": "note.startsWith('100%')"},
        {"name": "ends_at_830", "type": "boolean", "path": "note.endsWith('08:30')"}]}]}
    sql = compile_view(view, dialect(conn), passthrough=["person_key"], where_sql="r.id <> 'e2'")
    assert "%" not in sql  # psycopg reads '%' as a placeholder: the SQL must run unescaped
    got = [tuple(r) for r in conn.exec_driver_sql(sql)]
    assert got == [("pk-e1", "e1", True, True)]
    assert [tuple(r) for r in execute_sql(conn, f"SELECT * FROM ({sql}) AS v WHERE 1 % 1 = 0")] == got


def test_non_collection_column_with_many_values_fails_clearly(conn):
    view = {"resource": "Encounter", "select": [{"column": [{"name": "codes", "path": "type.coding.code"}]}]}
    with pytest.raises(ViewRuntimeError, match="'Encounter'"):
        run_view(conn, view)
    conn.rollback()
    view["select"][0]["column"][0]["collection"] = True
    got = {tuple(r["codes"]) for r in run_view(conn, view)}
    assert got == {("x", "O"), ("I",)}


def test_materialise_view_is_idempotent(conn):
    view = {"resource": "Encounter", "select": [{"column": [
        {"name": "encounter_id", "path": "getResourceKey()"},
        {"name": "encounter_class", "path": f"type.coding.where(system='{systems.ENCOUNTER_CLASS}').code"}]}]}
    assert materialise_view(conn, view, "mart_enc", ["encounter_id"]) == 2
    assert materialise_view(conn, view, "mart_enc", ["encounter_id"]) == 2
    assert conn.exec_driver_sql("SELECT COUNT(*) FROM mart_enc").scalar_one() == 2
    # Re-materialise one partition after a change: only that key is replaced.
    conn.exec_driver_sql("DELETE FROM fhir_resource WHERE id = 'e2'")
    insert_resources(conn, [{**ENCOUNTERS[1], "type": [{"coding": [{"system": systems.ENCOUNTER_CLASS, "code": "E"}]}]}])
    assert materialise_view(conn, view, "mart_enc", ["encounter_id"], where_sql="r.id = 'e2'") == 1
    got = sorted(tuple(r) for r in conn.exec_driver_sql("SELECT encounter_id, encounter_class FROM mart_enc"))
    assert got == [("e1", "O"), ("e2", "E")]
    with pytest.raises(ValueError, match="key columns"):
        materialise_view(conn, view, "mart_enc", ["nope"])


@pytest.mark.unit
@pytest.mark.parametrize("dialect", ["duckdb", "postgresql"])
def test_schema_makes_single_valued_paths_plain(dialect):
    """Encounter.period and Period.start are 0..1 in FHIR R4B: a JSON path, no iteration."""
    single = compile_view({"resource": "Encounter", "select": [{"column": [
        {"name": "start", "path": "period.start"}]}]}, dialect)
    many = compile_view({"resource": "Encounter", "select": [{"column": [
        {"name": "code", "path": "type.coding.code.first()"}]}]}, dialect)
    iterate = "list_transform" if dialect == "duckdb" else "jsonb_array_elements"
    column = single[len("SELECT"):single.index(" FROM ")]
    assert iterate not in single and "SELECT" not in column  # no subquery in the column
    assert iterate in many


@pytest.mark.unit
def test_duckdb_parses_each_resource_once():
    """DuckDB JSON is text: every path a view reads comes from ONE json_extract of the resource."""
    sql = compile_view({"resource": "Encounter", "select": [{"column": [
        {"name": "start", "path": "period.start"}, {"name": "end", "path": "period.end"},
        {"name": "code", "path": "type.coding.code.first()"}]}]}, "duckdb")
    assert sql.replace("r.resource_type", "").count("r.resource") == 1
    assert """json_extract(r.resource, ['$."period"."start"', '$."period"."end"', '$."type"'])""" in sql
    assert "\x00" not in sql


@pytest.mark.unit
def test_where_on_a_non_boolean_element_is_refused_at_compile_time():
    view = {"resource": "Patient", "where": [{"path": "name.family"}], "select": [{"column": [{"name": "id", "path": "id"}]}]}
    with pytest.raises(SofError, match=r"where\[0\].*not boolean.*string"):
        compile_view(view, "duckdb")


@pytest.mark.unit
def test_bare_choice_element_is_refused_with_the_typed_names():
    view = {"resource": "Observation", "select": [{"column": [{"name": "v", "path": "value"}]}]}
    with pytest.raises(UnsupportedFhirPath, match=r"Observation\.value is a choice element.*valueQuantity|ofType"):
        compile_view(view, "postgresql")
