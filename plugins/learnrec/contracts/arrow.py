"""The product contracts applied to Arrow: schema checks and column-wise row checks.

The pydantic contracts say what a record is; the pipeline moves millions of records as Arrow
columns, where per-row pydantic validation would cost more than the work itself. So a table
schema is checked against its contract once (types and optionality of the shared columns), and a
batch being written is checked column-wise (nulls where the contract requires a value, enum
values, numeric bounds) with pyarrow compute: a handful of vectorised passes per batch.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from enum import StrEnum

import annotated_types
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel


class ContractViolation(ValueError):
    """Rows or a schema that break a product contract."""


_KINDS = {
    str: pa.types.is_string,
    int: pa.types.is_integer,
    float: pa.types.is_floating,
    bool: pa.types.is_boolean,
    datetime: pa.types.is_timestamp,
}


def _unwrap(annotation) -> tuple[object, bool]:
    """(the annotation without ``None``, whether ``None`` is allowed)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


def _matches(annotation, arrow_type: pa.DataType) -> bool:
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return pa.types.is_list(arrow_type) and _matches(item, arrow_type.value_type)
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return pa.types.is_string(arrow_type)
    return _KINDS[annotation](arrow_type)


def check_schema(
    schema: pa.Schema,
    model: type[BaseModel],
    renames: dict[str, str] | None = None,
    *,
    complete: bool = False,
) -> None:
    """Every column of ``schema`` that is a field of ``model`` (``renames``: column -> field) has
    the field's type, and with ``complete`` every field is a column; raises
    :class:`ContractViolation` naming what does not hold."""
    renames = renames or {}
    columns = {renames.get(name, name) for name in schema.names}
    wrong = [f"{name}: missing" for name in model.model_fields if complete and name not in columns]
    wrong += [
        f"{field.name}: {field.type} is not {model.model_fields[name].annotation}"
        for field in schema
        if (name := renames.get(field.name, field.name)) in model.model_fields
        and not _matches(_unwrap(model.model_fields[name].annotation)[0], field.type)
    ]
    if wrong:
        raise ContractViolation(f"{model.__name__}: {'; '.join(wrong)}")


#: a bound's attribute and the comparison that breaks it
_BREAKS = {
    annotated_types.Ge: ("ge", pc.less),
    annotated_types.Gt: ("gt", pc.less_equal),
    annotated_types.Le: ("le", pc.greater),
    annotated_types.Lt: ("lt", pc.greater_equal),
}


def validate_table(table: pa.Table, model: type[BaseModel], renames: dict[str, str] | None = None) -> None:
    """Check the columns of ``table`` that are fields of ``model`` against the field's rules:
    no nulls unless optional, enum members only, numeric bounds; raises :class:`ContractViolation`
    with each broken rule and how many rows break it."""
    renames = renames or {}
    problems = []
    for column in table.column_names:
        name = renames.get(column, column)
        if name not in model.model_fields:
            continue
        info = model.model_fields[name]
        annotation, optional = _unwrap(info.annotation)
        values = table.column(column)
        if not optional and values.null_count:
            problems.append(f"{column}: {values.null_count} null(s)")
        if isinstance(annotation, type) and issubclass(annotation, StrEnum):
            allowed = pa.array([member.value for member in annotation])
            outside = len(values) - values.null_count - pc.sum(pc.is_in(values, value_set=allowed)).as_py()
            if outside:
                problems.append(f"{column}: {outside} value(s) outside {sorted(allowed.to_pylist())}")
        for rule in info.metadata:
            if type(rule) in _BREAKS:
                attr, breaks = _BREAKS[type(rule)]
                broken = pc.sum(pc.fill_null(breaks(values, getattr(rule, attr)), False)).as_py() or 0
                if broken:
                    problems.append(f"{column}: {broken} value(s) not {attr} {getattr(rule, attr)}")
    if problems:
        raise ContractViolation(f"{model.__name__}: {'; '.join(problems)}")
