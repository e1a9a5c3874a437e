"""A view's input read through its serializer: the JSON body or the query string, validated,
or a 400 `validation_error` (numeneon.errors turns the exception into the contract's body)."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request


def validated_body(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def validated_query(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    # A plain dict: given a QueryDict, DRF reads an empty `?limit=` as "not given" instead of
    # refusing it.
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
