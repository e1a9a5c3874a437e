"""SQL written out for the few statements that every message and every socket runs.

On the hot path the ORM spends more CPU building a statement than the database spends
running it: on PostgreSQL, reading two users with a lock costs 1.0-1.5 ms of CPU through a
QuerySet and 0.2-0.35 ms through a cursor, an insert 0.29-0.42 against 0.24-0.39 (`python -m
bench.statement_cost`, `bench/results/statement-cost-s3*.txt`). So these
statements go through Django's cursor (its connection, transaction, execute wrappers and
query logging) with their text built once from the models' `_meta`: table and column names
follow the models, and values are converted by the model fields, as the ORM would.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import TypeVar

from django.db import connection
from django.db.models import Model

T = TypeVar("T")


def per_database(build: Callable[..., T]) -> Callable[..., T]:
    """`build(*args)` made once per database vendor and arguments: the statements' text
    depends on the database's quoting and features, never on the values."""
    built = cache(lambda vendor, *args: build(*args))

    @wraps(build)
    def statement(*args):
        return built(connection.vendor, *args)

    return statement


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model: type[Model]) -> str:
    return quote(model._meta.db_table)


def column(model: type[Model], field_name: str) -> str:
    return quote(model._meta.get_field(field_name).column)


def for_update_clause(*, no_key: bool = True) -> str:
    """The row lock clause of this database (`FOR NO KEY UPDATE` on PostgreSQL), or "" where
    there is none: SQLite serializes every write transaction anyway."""
    features = connection.features
    if not features.has_select_for_update:
        return ""
    if no_key and features.has_select_for_no_key_update:
        return " FOR NO KEY UPDATE"
    return " FOR UPDATE"


@per_database
def _insert_sql(model: type[Model]) -> tuple[str, tuple]:
    """`INSERT INTO <table> (<columns>) VALUES (%s, …)`, with `RETURNING <pk>` where the
    database has it, and the fields in column order."""
    fields = tuple(f for f in model._meta.local_concrete_fields if f is not model._meta.pk)
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        table(model),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    if connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    return sql, fields


def insert(instance: Model) -> Model:
    """Insert a new `instance` (no pk yet) in one statement and set its pk: what `save()` does
    for a new row of a model without multi-table inheritance, minus the model signals (the
    hot-path models have no receivers) and the ORM's statement building."""
    model = type(instance)
    sql, fields = _insert_sql(model)
    params = [f.get_db_prep_save(f.pre_save(instance, add=True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if connection.features.can_return_columns_from_insert:
            pk = cursor.fetchone()[0]
        else:
            pk = connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


@per_database
def _select_columns(model: type[Model]) -> tuple[str, tuple, tuple]:
    """The column list of every concrete field, the field names (for Model.from_db) and
    the fields."""
    fields = tuple(model._meta.concrete_fields)
    columns = ", ".join(quote(field.column) for field in fields)
    return columns, tuple(field.attname for field in fields), fields


def fetch_models(model: type[Model], sql: str, params: list) -> list[Model]:
    """Instances of `model` from `sql`, whose select list is `{columns}` (every concrete
    field, in order): each value converted by its field and the backend, as a QuerySet
    would (the backend's converters belong to this thread's connection, so they are looked
    up per call)."""
    columns, names, fields = _select_columns(model)
    converters = [
        connection.ops.get_db_converters(field.get_col(model._meta.db_table))
        + field.get_db_converters(connection)
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql.format(columns=columns), params)
        rows = cursor.fetchall()
    out = []
    for row in rows:
        values = list(row)
        for i, field_converters in enumerate(converters):
            for convert in field_converters:
                values[i] = convert(values[i], None, connection)
        out.append(model.from_db(connection.alias, names, values))
    return out


def fetch_all(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_one(sql: str, params: list) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
