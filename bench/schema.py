"""The base of every suite-schema object, shared by the schema and the plugins that extend it."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field

from bench.registry import Registry


class Strict(BaseModel):
    """Every config object rejects unknown keys (a typo must fail, not be ignored) and is immutable.

    Types are strict (a bool is not an int, a string is not a number) and infinities and NaN are refused: YAML
    would otherwise turn ``generations: true`` into 1 and ``grad_clip: .inf`` into an unbounded clip.
    """

    model_config = ConfigDict(
        extra="forbid", use_attribute_docstrings=True, frozen=True, strict=True, allow_inf_nan=False
    )


def tagged_union(registry: Registry[Any], tag: str) -> Any:
    """A Pydantic discriminated union (on ``tag``) over every config class in ``registry``, plugins included.

    A union over one class is that class alone (Pydantic needs two members to discriminate).
    """
    classes = tuple(cls for _, cls in registry.items())
    if len(classes) == 1:
        return classes[0]
    return Annotated[Union[classes], Field(discriminator=tag)]  # noqa: UP007 - a runtime tuple needs Union[...]
