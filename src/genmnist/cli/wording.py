"""How the command line words the core's typed errors: the core says what happened (with the
data: epoch, batch, terms, paths), only the CLI knows which option or command fixes it."""

from __future__ import annotations

import shlex

from genmnist.errors import (
    AlreadyTrained,
    BadConfigValue,
    BatchTooSmall,
    ClassifierMissing,
    GenmnistError,
    NonFiniteLoss,
    NonFiniteTest,
    NonFiniteWeights,
    NoRunFound,
    NotABenchmarkFolder,
    NotAClassifier,
    NotARunCheckpoint,
    OptionError,
    PriorNotFitted,
    ResumeMismatch,
    SettingError,
    TooFewGPUs,
    UnknownConfigField,
    WrongRunModel,
)
from genmnist.metrics.folder import NotMnistImage


def option(setting: str) -> str:
    """The option that sets a core setting: `batch_size` -> `--batch-size`."""
    return "--" + setting.replace("_", "-")


def explain(e: GenmnistError) -> str:
    """The one line `genmnist: error: ...` shows for `e`."""
    if isinstance(e, NonFiniteLoss | NonFiniteWeights | NonFiniteTest):
        return f"{e}; try a lower --lr"
    if isinstance(e, BatchTooSmall):
        return (f"--batch-size {e.batch_size} cannot be split across {e.world} processes; it is "
                f"the global batch, give at least {e.world}")
    if isinstance(e, ResumeMismatch):
        return f"{e} (another --data-dir or --batch-size split?)"
    if isinstance(e, NotARunCheckpoint):
        return (f"--resume takes a run folder or its {e.expected}, not {e.path.name}; to "
                f"continue from a copied checkpoint, put it in a folder of its own as "
                f"{e.expected}")
    if isinstance(e, WrongRunModel):
        return f"{e}; use `genmnist train {e.model} --resume {shlex.quote(str(e.run))}`"
    if isinstance(e, AlreadyTrained):
        return f"{e}; pass --epochs N with N > {e.done} to train it further"
    if isinstance(e, UnknownConfigField | BadConfigValue):
        return f"--set {e.key}: {e}"
    if isinstance(e, SettingError):
        fixes = " or ".join(f"--{e.setting} {f}" for f in e.fixes)
        return f"--{e.setting} {e.value} {e.problem}" + (f"; use {fixes}" if fixes else "")
    if isinstance(e, NoRunFound):
        return f"{e}: train one with `genmnist train MODEL`, or pass --checkpoint"
    if isinstance(e, TooFewGPUs):
        return f"{e}; lower --nproc_per_node"
    return _explain_more(e)


def _explain_more(e: GenmnistError) -> str:
    """Sampling's and scoring's errors."""
    if isinstance(e, OptionError):
        return e.words(option)
    if isinstance(e, ClassifierMissing) and e.packaged:
        return f"{e} with `genmnist data train-classifier --out {e.path}`"
    if isinstance(e, NotABenchmarkFolder):
        return (f"{e.path} exists and is not a genmnist benchmark folder; use another --out, "
                "or --force to write into it")
    if isinstance(e, NotAClassifier):
        return f"{e} (write one with `genmnist data train-classifier`)"
    if isinstance(e, PriorNotFitted):
        return (f"this {e.model} checkpoint has no fitted {e.prior} prior yet (it is fitted "
                f"after the last epoch); use the checkpoint of a finished "
                f"`genmnist train {e.model}` run")
    if isinstance(e, NotMnistImage):
        return (f"{e.path} {e.what}; genmnist fid reads 28x28 8-bit grayscale images, as "
                "`genmnist generate` writes")
    return str(e)


def sampling_note(model) -> str | None:
    """What `generate` and `fid` say before sampling a model that has no prior of its own."""
    if model.has_prior:
        return None
    how = "per digit" if model.conditional else "(without labels)"
    return (f"{model.name} has no prior: its codes are drawn from a Gaussian mixture fitted "
            f"{how} to the training-set codes after training")
