"""Speed benchmark: genmnist against the plain PyTorch loop and against the hardware.

    python bench/speed.py               # full run (~10-15 min on a 2-core CPU)
    python bench/speed.py --quick       # a smoke run with small sizes

Prints one table per section (markdown, ready for docs/performance.md):
  1. training images/s of every registered model with 1 and 2 intra-op threads (justifies each
     model's recipe's `cpu_threads`), and one real epoch of `vae` and `cvae` through `fit`;
  2. `vae` against the reference loop users write today (pytorch/examples: DataLoader over
     torchvision MNIST with ToTensor, default threads, batch 128), and against the rate the
     hardware allows for its operations (its GEMMs timed alone at the same shapes);
  3. wall seconds of `genmnist generate --n 10000`, start-up included;
  4. wall seconds of `genmnist fid` on 10000 samples in the MNIST feature space, and of its
     Inception path (reference statistics cached) against `python -m pytorch_fid` on the same
     folders. No real Inception weights are needed to time it: a random-weight file of the same
     network goes into a temporary torch hub cache that both programs read.
genmnist's parts run as the CLI does, with OpenMP's defaults; the reference loop runs in
a subprocess with the environment a user has (the policy unset, default threads).
Set GENMNIST_DATA to the MNIST folder (default ../shared/data).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("GENMNIST_DATA", str(REPO.parent / "shared" / "data"))
REFERENCE_MODE = "--reference-loop" in sys.argv
import torch
import torch.nn.functional as F
from torch import nn

from genmnist.data import load_mnist
from genmnist.models import MODELS, build_model, make_config
from genmnist.recipes import recipe_for
from genmnist.training import RunSettings, TrainConfig, fit, make_optimizer


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}"


def table(headers: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


# --- 1. training throughput -------------------------------------------------------------------
def steps_per_sec(name: str, images: torch.Tensor, labels: torch.Tensor, threads: int,
                  batches: int) -> float:
    """Images/s of the trainer's inner step (all scheduled players) for `batches` batches."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model(name).train()
    opts = {p: make_optimizer(model.player_parameters(p), model.optimizer_spec(p), None)
            for p in model.players}
    bs = recipe_for(name).batch_size
    perm = torch.randperm(len(images))

    def step(i):
        idx = perm[(i * bs) % (len(images) - bs):][:bs]
        x, y = images[idx].float().div_(255), labels[idx] if model.conditional else None
        for p in model.schedule(i):
            opts[p].zero_grad(set_to_none=True)
            model(x, y, player=p)["loss"].backward()
            opts[p].step()
            model.after_step(p)

    for i in range(5):  # warm-up: allocator, oneDNN primitive caches
        step(i)
    t = time.perf_counter()
    for i in range(5, 5 + batches):
        step(i)
    return batches * bs / (time.perf_counter() - t)


def real_epoch(name: str, train, test, threads: int) -> dict:
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as d:
        tcfg = TrainConfig(model=name, epochs=1, batch_size=recipe_for(name).batch_size)
        rec = fit(tcfg, make_config(name), train, test, Path(d) / "run", torch.device("cpu"),
                  settings=RunSettings(threads=threads))
    return rec.history[0]


# --- 2. the reference loop and the hardware rate -----------------------------------------------
class RefVAE(nn.Module):
    """pytorch/examples vae/main.py, verbatim in structure."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x):
        h1 = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def reference_loop(data_dir: str, batches: int) -> float:
    """Images/s of the loop users write today: DataLoader + ToTensor, default threads."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    ds = datasets.MNIST(data_dir, train=True, download=False, transform=transforms.ToTensor())
    loader = DataLoader(ds, batch_size=128, shuffle=True)
    model = RefVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t, n = None, 0
    for i, (x, _) in enumerate(loader):
        if i == 5:
            t, n = time.perf_counter(), 0
        opt.zero_grad()
        recon, mu, logvar = model(x)
        bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        (bce + kld).backward()
        opt.step()
        n += len(x)
        if i == 5 + batches:
            break
    return n / (time.perf_counter() - t)


def reference_in_subprocess(batches: int) -> tuple[float, int]:
    """(images/s, threads) of the reference loop in a fresh process with the user's defaults."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, __file__, "--reference-loop", str(batches)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1])


def vae_flops_per_image(hidden=400, latent=20) -> int:
    """FLOPs of one training image of the 784-400-20 VAE's linear layers: forward (2*in*out),
    weight gradient (2*in*out) and input gradient (2*in*out, not needed for the first layer)."""
    layers = [(784, hidden), (hidden, 2 * latent), (latent, hidden), (hidden, 784)]
    return sum(6 * i * o for i, o in layers) - 2 * 784 * hidden


def vae_hardware_rate(threads: int, batch: int = 128, reps: int = 300) -> tuple[float, float]:
    """(images/s, GFLOP/s) if the VAE's GEMMs were all it did: each GEMM of a training step at its
    exact shape, timed alone. Elementwise ops, the loss and the optimizer are not counted."""
    torch.set_num_threads(threads)
    layers = [(784, 400), (400, 40), (20, 400), (400, 784)]
    shapes = []
    for k, (i, o) in enumerate(layers):
        shapes.append((batch, i, o))          # forward: (B, in) @ (in, out)
        shapes.append((o, batch, i))          # weight grad: (out, B) @ (B, in)
        if k > 0:
            shapes.append((batch, o, i))      # input grad: (B, out) @ (out, in)
    mats = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in shapes]
    for a, b in mats:
        a @ b
    t = time.perf_counter()
    for _ in range(reps):
        for a, b in mats:
            a @ b
    per_step = (time.perf_counter() - t) / reps
    flops = sum(2 * m * k * n for m, k, n in shapes)
    return batch / per_step, flops / per_step / 1e9


# --- 3./4. commands, wall clock ----------------------------------------------------------------
def wall(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    return dt


def random_inception_weights(torch_home: Path) -> Path:
    """pytorch-fid's FID Inception with random weights, saved where both pytorch-fid and
    genmnist look (torch hub's checkpoints folder). Timing needs the network, not its weights."""
    import pytorch_fid.inception as pfi

    from genmnist.metrics.inception import WEIGHTS_FILE

    built, original, loader = {}, pfi._inception_v3, pfi.load_state_dict_from_url
    pfi._inception_v3 = lambda *a, **k: built.setdefault("net", original(*a, **k))
    pfi.load_state_dict_from_url = lambda *a, **k: built["net"].state_dict()
    try:
        torch.manual_seed(0)
        pfi.fid_inception_v3()
    finally:
        pfi._inception_v3, pfi.load_state_dict_from_url = original, loader
    path = torch_home / "hub" / "checkpoints" / WEIGHTS_FILE
    path.parent.mkdir(parents=True)
    torch.save(built["net"].state_dict(), path)
    return path


def main() -> None:
    if REFERENCE_MODE:  # child process: print "images/s threads" of the reference loop
        ips = reference_loop(os.environ["GENMNIST_DATA"], int(sys.argv[-1]))
        print(ips, torch.get_num_threads())
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--models", nargs="*", default=sorted(MODELS))
    ap.add_argument("--inception-n", type=int, default=200,
                    help="images per folder for the Inception timing (~0.35 s/image/core)")
    args = ap.parse_args()
    data_dir = os.environ["GENMNIST_DATA"]
    batches = 10 if args.quick else 40
    train, test = load_mnist("train", data_dir), load_mnist("test", data_dir)
    print(f"# genmnist speed benchmark\n\nmachine: {machine()}; OMP_WAIT_POLICY: "
          f"{os.environ.get('OMP_WAIT_POLICY', 'unset (spinning; the machine was idle)')}\n")

    print("## 1. Training throughput (images/s, trainer inner step)\n")
    print("Best of 3 rounds, 1 and 2 threads alternating, so a passing load hits both alike.\n")
    rows = []
    for name in args.models:
        r1 = r2 = 0.0
        for _ in range(1 if args.quick else 3):
            r1 = max(r1, steps_per_sec(name, train.images, train.labels, 1, batches))
            r2 = max(r2, steps_per_sec(name, train.images, train.labels, 2, batches))
        rows.append([name, f"{r1:.0f}", f"{r2:.0f}", f"{r2 / r1:.2f}",
                     recipe_for(name).cpu_threads])
    print(table(["model", "1 thread", "2 threads", "2 vs 1", "cpu_threads default"], rows))

    print("\n## 2. vae against the reference loop and the hardware\n")
    ref, ref_threads = reference_in_subprocess(batches * 5)
    sub = train.head(12800) if args.quick else train
    epochs = {n: real_epoch(n, sub, test, recipe_for(n).cpu_threads) for n in ("vae", "cvae")}
    vae_ips, vt = epochs["vae"]["images_per_sec"], recipe_for("vae").cpu_threads
    hw_ips, hw_gflops = vae_hardware_rate(vt)
    fpi = vae_flops_per_image()
    print(table(["what", "images/s", "epoch of 60000 (s)", "note"], [
        [f"reference loop (DataLoader+ToTensor, {ref_threads} threads, batch 128)",
         f"{ref:.0f}", f"{60000 / ref:.1f}", f"{batches * 5} batches timed"],
        [f"genmnist vae ({vt} threads, batch 128)", f"{vae_ips:.0f}", f"{60000 / vae_ips:.1f}",
         f"{vae_ips / ref:.1f}x the reference; one full epoch via fit"],
        [f"hardware rate for vae's GEMMs ({vt} threads)", f"{hw_ips:.0f}",
         f"{60000 / hw_ips:.1f}", f"{fpi / 1e6:.2f} MFLOP/image at {hw_gflops:.1f} GFLOP/s; "
         f"vae runs at {vae_ips / hw_ips:.0%} of it; the bound is {hw_ips / ref:.1f}x the "
         "reference"],
        [f"genmnist cvae ({recipe_for('cvae').cpu_threads} threads)",
         f"{epochs['cvae']['images_per_sec']:.0f}",
         f"{60000 / epochs['cvae']['images_per_sec']:.1f}", "one full epoch via fit"],
    ]))

    print("\n## 3./4. Commands, wall seconds (start-up included)\n")
    exe = str(Path(sys.executable).with_name("genmnist"))
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        n = 1000 if args.quick else 10000
        subprocess.run([exe, "train", "cvae", "--epochs", "1", "--subset", "2048",
                        "--name", "c", "--out", "runs"], cwd=d, check=True, capture_output=True)
        rows = [[f"genmnist generate --n {n} (cvae)",
                 f"{wall([exe, 'generate', '-c', 'runs/c', '--n', str(n)], d):.2f}"]]
        fid = [exe, "fid", "samples", "mnist-test", "--features", "mnist"]
        wall(fid, d)  # first call builds the cached mnist-test statistics
        rows.append([f"genmnist fid samples/ mnist-test --features mnist (n={n}, cached "
                     "reference)", f"{wall(fid, d):.2f}"])

        # Inception: both programs read the same random-weight file from torch hub's cache.
        k = 50 if args.quick else args.inception_n
        env = {**os.environ, "TORCH_HOME": str(d / "torch")}
        random_inception_weights(d / "torch")
        subprocess.run([exe, "generate", "-c", "runs/c", "--n", str(k), "--out", "a",
                        "--seed", "1"], cwd=d, check=True, capture_output=True)
        subprocess.run([exe, "data", "export", "b", "--split", "test", "--n", str(k)],
                       cwd=d, check=True, capture_output=True)
        subprocess.run([exe, "fid", "b", "a", "--features", "inception", "--metrics", "fid",
                        "--save-stats", "b.npz"], cwd=d, env=env, check=True,
                       capture_output=True)

        def timed(cmd):
            t = time.perf_counter()
            subprocess.run(cmd, cwd=d, env=env, check=True, capture_output=True)
            return time.perf_counter() - t

        pf = timed([sys.executable, "-m", "pytorch_fid", "a", "b", "--device", "cpu"])
        g2 = timed([exe, "fid", "a", "b", "--features", "inception", "--metrics", "fid"])
        g1 = timed([exe, "fid", "a", "b.npz", "--features", "inception", "--metrics", "fid"])
        rows += [[f"python -m pytorch_fid a/ b/ ({k} + {k} images, Inception)", f"{pf:.1f}"],
                 [f"genmnist fid a/ b/ --features inception ({k} + {k} images)", f"{g2:.1f}"],
                 [f"genmnist fid a/ b.npz --features inception ({k} images, reference "
                  "statistics cached)", f"{g1:.1f}"]]
    print(table(["command", "seconds"], rows))


if __name__ == "__main__":
    main()
