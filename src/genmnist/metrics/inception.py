"""pytorch-fid's InceptionV3 (Szegedy et al. 2016, "Rethinking the Inception Architecture for
Computer Vision") with the TensorFlow FID weights, as `python -m pytorch_fid` uses it.

genmnist builds the very same `pytorch_fid.inception.InceptionV3` module and feeds it what
pytorch-fid feeds it -- each grayscale image repeated to 3 channels, scaled to [0, 1]; the
network itself resizes to 299x299 and rescales to [-1, 1] -- so its features, and the FID from
them, equal pytorch-fid's. Only where the weights come from differs, so that it works offline:

1. `--inception-weights FILE`;
2. else the file in torch hub's cache (`torch.hub.get_dir()/checkpoints/`), where pytorch-fid's
   own download puts it;
3. else pytorch-fid's own download (online);
4. else one clear error naming the file, its URL and where to put it.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch

from genmnist.errors import GenmnistError, OptionError

WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
               "pt_inception-2015-12-05-6726825d.pth")
WEIGHTS_FILE = WEIGHTS_URL.rsplit("/", 1)[1]
DIMS = (64, 192, 768, 2048)  # pytorch-fid's InceptionV3.BLOCK_INDEX_BY_DIM


def hub_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def _missing() -> OptionError:
    return OptionError("Inception weights not found and could not be downloaded: download {url} "
                       "and pass {inception_weights} FILE, or put it at {hub} (or use {features} "
                       "mnist, which needs no download)", ("inception_weights", "features"),
                       url=WEIGHTS_URL, hub=hub_weights_path())


def bad_dims(dims: int) -> OptionError:
    return OptionError("{dims} {value} is not an Inception feature size; use one of {sizes}",
                       ("dims",), value=dims, sizes=", ".join(map(str, DIMS)))


def load_inception_state(weights: str | Path | None = None) -> dict:
    """The FID Inception state dict from `weights`, the hub cache, or pytorch-fid's download."""
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise OptionError("{inception_weights} {path} not found; it should be {file} from "
                              "{url}", ("inception_weights",), path=path, file=WEIGHTS_FILE,
                              url=WEIGHTS_URL)
    else:
        path = hub_weights_path()
    if path.is_file():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise GenmnistError(f"{path} is not a readable Inception weights file "
                                f"(expected {WEIGHTS_FILE})") from e
    # online: pytorch-fid's own mechanism, which caches into the hub folder. torch.hub's
    # "Downloading: ..." line (on stdout) is held back: it would break --json, and offline the
    # error below should be the only line.
    held = io.StringIO()
    try:
        with contextlib.redirect_stdout(held), contextlib.redirect_stderr(held):
            return torch.hub.load_state_dict_from_url(WEIGHTS_URL, progress=False,
                                                      map_location="cpu")
    except Exception as e:
        raise _missing() from e


@contextlib.contextmanager
def _weights_given(state: dict):
    """Make pytorch-fid's `fid_inception_v3()` load `state` instead of fetching its URL."""
    import pytorch_fid.inception as pfi

    original = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda *args, **kwargs: state
    try:
        yield
    finally:
        pfi.load_state_dict_from_url = original


def build_inception(dims: int = 2048, weights: str | Path | None = None,
                    device: torch.device | str = "cpu") -> torch.nn.Module:
    """pytorch-fid's InceptionV3 returning the `dims`-d block, with the FID weights, in eval."""
    if dims not in DIMS:
        raise bad_dims(dims)
    from pytorch_fid.inception import InceptionV3  # late: pulls in torchvision and scipy

    state = load_inception_state(weights)
    with _weights_given(state):
        try:
            model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[dims]])
        except RuntimeError as e:  # load_state_dict: wrong keys or shapes
            raise GenmnistError(f"the Inception weights do not fit pytorch-fid's network "
                                f"(expected {WEIGHTS_FILE})") from e
    return model.to(device).eval()


@torch.inference_mode()
def inception_features(model: torch.nn.Module, images: torch.Tensor,
                       batch_size: int = 50) -> torch.Tensor:
    """(N, dims) float32 features of uint8 or [0, 1] grayscale images (N, 1, H, W)."""
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device)
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        # PIL's convert("RGB") copies L into R, G and B, as pytorch-fid's loader does
        pred = model(x.expand(-1, 3, -1, -1))[0]
        if pred.shape[2] != 1 or pred.shape[3] != 1:  # blocks before the last: average pool
            pred = torch.nn.functional.adaptive_avg_pool2d(pred, (1, 1))
        out.append(pred.flatten(1).cpu())
    return torch.cat(out)
