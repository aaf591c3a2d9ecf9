"""The model registry: one dict from the name users type to the class that implements it.

Each model class registers itself with `@register` (genmnist.models.base); adding a model is its
file and one import line here.
"""

from __future__ import annotations

import math
import typing
from dataclasses import fields
from typing import Any

from genmnist.errors import BadConfigValue, GenmnistError, UnknownConfigField
from genmnist.models.base import MODELS, GenerativeModel, OptimizerSpec, register


def get_model_class(name: str) -> type[GenerativeModel]:
    if name not in MODELS:
        raise GenmnistError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    return MODELS[name]


def make_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The model's config with `overrides` applied; None values mean "use the default"."""
    cls = get_model_class(name)
    names = {f.name for f in fields(cls.config_class)}
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    for key in given:
        if key not in names:
            raise GenmnistError(f"model '{name}' does not take --{key.replace('_', '-')}")
    return cls.config_class(**given)


def parse_settings(name: str, settings: list[str]) -> dict[str, Any]:
    """`["channels=64", "beta=0.5"]` -> `{"channels": 64, "beta": 0.5}`, each value checked
    against the type of the model's config field: a count (int) at least 1, a weight (float)
    finite and not negative, a flag (bool) true or false."""
    types = typing.get_type_hints(get_model_class(name).config_class)
    out: dict[str, Any] = {}
    for item in settings:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if key not in types:
            raise UnknownConfigField(name, key, list(types))
        if not sep:
            raise BadConfigValue(name, key, "", types[key].__name__)
        out[key] = _parse_value(name, key, text.strip(), types[key])
    return out


def _parse_value(name: str, key: str, text: str, kind: type) -> Any:
    try:
        if kind is bool and text.lower() in ("true", "false", "1", "0"):
            return text.lower() in ("true", "1")
        if kind is int and int(text) >= 1:
            return int(text)
        if kind is float and math.isfinite(float(text)) and float(text) >= 0:
            return float(text)
        if kind is str and text:
            return text
    except ValueError:
        pass
    raise BadConfigValue(name, key, text, getattr(kind, "__name__", str(kind)))


def build_model(name: str, config: Any = None) -> GenerativeModel:
    cls = get_model_class(name)
    if isinstance(config, dict):
        config = cls.config_class(**config)
    return cls(config if config is not None else cls.config_class())


# Each model registers itself (`@register`) when imported; the order of these lines is the
# order the CLI lists the models in.
from genmnist.models import ae  # noqa: E402,F401,I001
from genmnist.models import vae  # noqa: E402,F401
from genmnist.models import cvae  # noqa: E402,F401
from genmnist.models import dcgan  # noqa: E402,F401
from genmnist.models import wgan  # noqa: E402,F401
from genmnist.models import vaegan  # noqa: E402,F401
from genmnist.models import vqvae  # noqa: E402,F401

__all__ = ["MODELS", "GenerativeModel", "OptimizerSpec", "build_model", "get_model_class",
           "make_config", "parse_settings", "register"]
