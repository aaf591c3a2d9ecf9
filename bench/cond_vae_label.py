"""Why does cond-vae draw the wrong digit? Measurements on one trained checkpoint.

1. Conditional accuracy (the MNIST classifier's verdict on samples drawn for digit i % 10) with
   codes from the N(0, I) prior and from the per-digit mixtures fitted to the training codes.
2. How much of the digit the code z carries: a logistic regression from the codes of training
   images (encoded with their labels) to their labels, scored on test codes. Sohn et al.'s CVAE
   intends z to carry style only; a z that predicts the digit well lets the decoder lean on it.
3. Whether the decoder obeys the label: test images encoded with their own label and decoded
   with another one (label d + 1 mod 10); the share the classifier calls the new label.

    python bench/cond_vae_label.py runs/cond-vae --n 10000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import torch

from genmnist.checkpoint import load_model
from genmnist.data import load_mnist
from genmnist.latent import encode_codes
from genmnist.metrics.conditional import score_conditional
from genmnist.sampling import sample_batches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, _ = load_model(args.checkpoint)
    assert model.conditional, "a conditional model's checkpoint, please"
    intended = torch.arange(args.n) % 10
    for name, sampler in (("prior N(0, I)", None), ("per-digit mixture", model.latent_sampler)):
        if name != "prior N(0, I)" and sampler is None:
            continue
        x = torch.cat(list(sample_batches(model, args.n, 0, None, 1000, sampler)))
        acc = score_conditional(x, intended)
        per = " ".join(f"{a:.3f}" for a in acc["per_digit"])
        print(f"conditional accuracy, {name}: {acc['accuracy']:.4f}  per digit: {per}")

    from sklearn.linear_model import LogisticRegression

    train, test = load_mnist("train", args.data_dir), load_mnist("test", args.data_dir)
    zt = encode_codes(model, train.float_images(slice(0, 20000)), train.labels[:20000])
    zs = encode_codes(model, test.float_images(), test.labels)
    probe = LogisticRegression(max_iter=1000).fit(zt.numpy(), train.labels[:20000].numpy())
    print(f"digit predicted from z alone (logistic regression, test codes): "
          f"{probe.score(zs.numpy(), test.labels.numpy()):.4f} (chance 0.1)")

    swapped = (test.labels + 1) % 10
    with torch.inference_mode():
        x = torch.cat([model.decode(zs[i:i + 1000], swapped[i:i + 1000])
                       for i in range(0, len(zs), 1000)])
    print(f"test codes decoded with label d + 1: the classifier says d + 1 for "
          f"{score_conditional(x, swapped)['accuracy']:.4f}, still d for "
          f"{score_conditional(x, test.labels)['accuracy']:.4f}")


if __name__ == "__main__":
    main()
