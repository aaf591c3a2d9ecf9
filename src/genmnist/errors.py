"""User-facing errors.

Anything a user can cause (bad path, bad number, wrong checkpoint) raises `GenmnistError`; the CLI
prints its message as one line on stderr and exits non-zero. Internal invariants stay `assert`s,
so a traceback always means a bug in genmnist, never a mistake by the user.
"""


class GenmnistError(ValueError):
    """A problem the user can fix; the message is shown as-is, on one line."""


class QuietError(GenmnistError):
    """An error another process reports: under torchrun, every rank fails alike and only rank 0
    prints the line; the CLI exits 1 without printing for this one."""


# --- training stops: the data of what happened; the CLI adds how to fix it --------------------

def kept_text(checkpoint, epoch: int) -> str:
    """What a stopped run still has: its last good checkpoint, or nothing."""
    return (f"kept the last good checkpoint {checkpoint} (epoch {epoch})" if epoch
            else "no checkpoint was written")


class NonFiniteLoss(GenmnistError):
    """A loss term became NaN or infinite; the last good checkpoint is left as it was."""

    def __init__(self, epoch: int, batch: int, terms: dict[str, float], checkpoint, kept: int):
        self.epoch, self.batch, self.terms, self.checkpoint, self.kept = (
            epoch, batch, terms, checkpoint, kept)
        bad = ", ".join(f"{k} = {v}" for k, v in terms.items())
        super().__init__(f"training stopped: loss became non-finite at epoch {epoch} batch "
                         f"{batch} ({bad}); {kept_text(checkpoint, kept)}")


class NonFiniteWeights(GenmnistError):
    """A weight became NaN or infinite while the loss still read finite; nothing was saved."""

    def __init__(self, epoch: int, weight: str, checkpoint, kept: int):
        self.epoch, self.weight, self.checkpoint, self.kept = epoch, weight, checkpoint, kept
        super().__init__(f"training stopped: weight '{weight}' became NaN or infinite in epoch "
                         f"{epoch}; {kept_text(checkpoint, kept)}")


class NonFiniteTest(GenmnistError):
    """The test-set terms of an epoch came back NaN or infinite while the training terms read
    finite (weights grown huge); the epoch is neither logged nor saved."""

    def __init__(self, epoch: int, terms: dict[str, float], checkpoint, kept: int):
        self.epoch, self.terms, self.checkpoint, self.kept = epoch, terms, checkpoint, kept
        bad = ", ".join(f"{k} = {v}" for k, v in terms.items())
        super().__init__(f"training stopped: the test-set loss became non-finite after epoch "
                         f"{epoch} ({bad}); {kept_text(checkpoint, kept)}")


class BatchTooSmall(GenmnistError):
    """The global batch cannot give every process at least one image."""

    def __init__(self, batch_size: int, world: int):
        self.batch_size, self.world = batch_size, world
        super().__init__(f"a batch of {batch_size} images cannot be split across {world} "
                         "processes")


class ResumeMismatch(GenmnistError):
    """A mid-epoch checkpoint does not fit the training images it is resumed on."""

    def __init__(self, saved_images: int, images: int):
        self.saved_images, self.images = saved_images, images
        super().__init__(f"cannot resume: the checkpoint was written on {saved_images} training "
                         f"images, these are {images}")


# --- resuming: what does not fit; the CLI says which option or command would --------------------

class NotARunCheckpoint(GenmnistError):
    """Only a run folder's own checkpoint can be resumed (its folder is where the run goes on)."""

    def __init__(self, path, expected: str):
        self.path, self.expected = path, expected
        super().__init__(f"can only resume a run folder or its {expected}, not {path.name}; to "
                         f"continue from a copied checkpoint, put it in a folder of its own as "
                         f"{expected}")


class WrongRunModel(GenmnistError):
    """The run to resume trains another model than the one named."""

    def __init__(self, run, model: str, asked: str):
        self.run, self.model, self.asked = run, model, asked
        super().__init__(f"{run} is a run of model '{model}', not '{asked}'")


class AlreadyTrained(GenmnistError):
    """The run has reached the number of epochs asked for."""

    def __init__(self, run, done: int):
        self.run, self.done = run, done
        super().__init__(f"{run} has already trained {done} epochs")


# --- model settings (`train --set KEY=VALUE`) -------------------------------------------------

class UnknownConfigField(GenmnistError):
    """A setting the model's config does not have."""

    def __init__(self, model: str, key: str, known: list[str]):
        self.model, self.key, self.known = model, key, known
        super().__init__(f"model '{model}' has no setting '{key}'; it has: {', '.join(known)}")


class BadConfigValue(GenmnistError):
    """A setting's value that its type does not allow."""

    RULES = {"int": "a whole number of at least 1", "float": "a finite number of at least 0",
             "bool": "true or false"}

    def __init__(self, model: str, key: str, value: str, kind: str):
        self.model, self.key, self.value, self.kind = model, key, value, kind
        super().__init__(f"model '{model}' setting '{key}' must be "
                         f"{self.RULES.get(kind, kind)}, got {value!r}")


class TooFewGPUs(GenmnistError):
    """More processes on this node than it has GPUs."""

    def __init__(self, processes: int, gpus: int):
        self.processes, self.gpus = processes, gpus
        super().__init__(f"{processes} processes per node but only {gpus} GPUs")


class SettingError(GenmnistError):
    """A setting's value that cannot work here, e.g. precision fp16 on a CPU. The core names the
    setting (`precision`); the CLI shows it as the option (`--precision`)."""

    def __init__(self, setting: str, value, problem: str, fixes: tuple[str, ...] = ()):
        self.setting, self.value, self.problem, self.fixes = setting, value, problem, fixes
        fix = f"; use {' or '.join(f'{setting} {f}' for f in fixes)}" if fixes else ""
        super().__init__(f"{setting} {value} {problem}{fix}")


class OptionError(GenmnistError):
    """A choice of the user's that cannot work, with the settings that would fix it as data.
    `template` names each of `settings` as `{setting}` and the rest of its `data` by name;
    `str()` shows a setting by its parameter name (`batch_size`), the CLI by its option."""

    def __init__(self, template: str, settings: tuple[str, ...], **data):
        self.template, self.settings, self.data = template, settings, data
        super().__init__(self.words(lambda setting: setting))

    def words(self, name) -> str:
        """The message with each setting as `name(setting)` says it."""
        return self.template.format(**self.data, **{s: name(s) for s in self.settings})


class NotABenchmarkFolder(GenmnistError):
    """The benchmark's output folder holds files that no benchmark wrote."""

    def __init__(self, path):
        self.path = path
        super().__init__(f"{path} exists and is not a benchmark folder; choose another folder, "
                         "or force to write into it")


class ClassifierMissing(GenmnistError):
    """The MNIST classifier's weights are not at `path`; `packaged`: the file the package ships,
    which the classifier-training command rebuilds."""

    def __init__(self, path, packaged: bool):
        self.path, self.packaged = path, packaged
        hint = "the package is incomplete: rebuild it" if packaged else "check the path"
        super().__init__(f"MNIST classifier weights {path} not found; {hint}")


class NotAClassifier(GenmnistError):
    """A file given as the MNIST classifier that is not one."""

    def __init__(self, path):
        self.path = path
        super().__init__(f"{path} is not a genmnist MNIST classifier file")


class PriorNotFitted(GenmnistError):
    """A model whose prior is fitted after its last epoch (vqvae's PixelCNN) was asked for
    samples before that: a checkpoint of an unfinished run."""

    def __init__(self, model: str, prior: str):
        self.model, self.prior = model, prior
        super().__init__(f"this {model} checkpoint has no fitted {prior} prior yet (it is fitted "
                         "after the last epoch); use the checkpoint of a finished training run")


class NoRunFound(GenmnistError):
    """No checkpoint was named and the runs folder holds none."""

    def __init__(self, runs_dir):
        self.runs_dir = runs_dir
        super().__init__(f"no checkpoint given and no run found under {runs_dir}/")
