"""The model registry: one dict from the name users type to the class that implements it.

Adding a model is one file and one line here; the CLI builds its model choices from the keys.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from genmnist.errors import GenmnistError
from genmnist.models.ae import AE
from genmnist.models.base import GenerativeModel, OptimizerSpec
from genmnist.models.cvae import CondVAE, ConvVAE
from genmnist.models.dcgan import DCGAN
from genmnist.models.vae import VAE
from genmnist.models.vaegan import VAEGAN
from genmnist.models.vqvae import VQVAE
from genmnist.models.wgan import WGAN, WGANGP

MODELS: dict[str, type[GenerativeModel]] = {}


def register(cls: type[GenerativeModel]) -> type[GenerativeModel]:
    if not cls.name or cls.name in MODELS:
        raise ValueError(f"model name {cls.name!r} is empty or already registered")
    MODELS[cls.name] = cls
    return cls


for _cls in (AE, VAE, ConvVAE, CondVAE, DCGAN, WGAN, WGANGP, VAEGAN, VQVAE):
    register(_cls)


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


def build_model(name: str, config: Any = None) -> GenerativeModel:
    cls = get_model_class(name)
    if isinstance(config, dict):
        config = cls.config_class(**config)
    return cls(config if config is not None else cls.config_class())


__all__ = ["MODELS", "GenerativeModel", "OptimizerSpec", "build_model", "get_model_class",
           "make_config", "register"]
