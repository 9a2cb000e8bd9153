"""DistributedDataParallel on the CPU (gloo, 2 processes launched by torchrun) equals single-process
training with the same global batch, within float tolerance."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from ssrdepth.training.config import TrainConfig, apply_overrides
from ssrdepth.training.loop import train

from ..conftest import HANG_TIMEOUT_S
from .conftest import ToyDepth

SRC = Path(__file__).resolve().parents[2] / "src"

# The worker script: the same toy data set (tests/training/conftest.py, copied so that the script
# stands alone) and the config passed as overrides.
WORKER = textwrap.dedent(
    """
    import sys
    import torch
    import torch.nn.functional as F
    from ssrdepth.training.loop import train
    from ssrdepth.training.config import TrainConfig, apply_overrides

    class ToyDepth(torch.utils.data.Dataset):
        def __init__(self, n, size=(16, 48), seed=0, log=None):
            h, w = size
            self.log = log
            self.reads = []
            g = torch.Generator().manual_seed(seed)
            self.image = torch.rand(n, 1, h, w, generator=g)
            ramp = torch.linspace(0, 1, h).view(1, 1, h, 1).expand(n, 1, h, w)
            self.target = (0.3 * ramp + 0.5 * F.avg_pool2d(self.image, 5, 1, 2)).clamp(0, 1)
            self.valid = torch.ones_like(self.target, dtype=torch.bool)
            self.valid[:, :, :2] = False

        def __len__(self):
            return len(self.image)

        def __getitem__(self, i):
            if self.log:
                self.reads.append(i)
            t = self.target[i]
            return {"image": self.image[i], "target": t, "valid_mask": self.valid[i],
                    "depth": torch.zeros_like(t), "index": i}

    import os
    from pathlib import Path

    cfg = apply_overrides(TrainConfig(), sys.argv[1:])
    data = ToyDepth(40, log=True)
    train(cfg, train_set=data, val_set=ToyDepth(10, seed=1))
    Path(cfg.out, f"reads{os.environ['RANK']}.txt").write_text(" ".join(map(str, data.reads)))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_ddp_two_processes_match_one(toy_cfg: TrainConfig, tmp_path: Path) -> None:
    # C has no batch norm; l2_paper and mse average per image, so the mean of the two processes'
    # gradients is the single-process gradient. 40 samples, global batch 8: 5 steps per epoch; 7 steps
    # cross an epoch boundary. SGD with momentum and a cosine schedule.
    overrides = [
        "model.name=C",
        "model.options.width=0.25",
        "data.size=16,48",
        "loss=l2_paper",
        "optim.lr=0.768",  # per-pixel scale: eq. 1 at 16×48 gets 0.768 × 2/768 = 0.002
        "schedule.name=cosine",
        "batch_size=8",
        "length=7",
        "eval_every=7",
        "log_every=1",
        "tensorboard=false",
        "progress=false",
        "threads=1",
        "precision=fp32",  # the comparison is to fp32 rounding; bf16 rounds per process differently
    ]
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    ddp_out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc-per-node=2",
        "--master-addr=127.0.0.1",
        f"--master-port={_free_port()}",
        str(script),
        *overrides,
        f"out={ddp_out}",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=HANG_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-3000:]

    cfg = apply_overrides(TrainConfig(), [*overrides, f"out={tmp_path / 'single'}"])
    single = train(cfg, train_set=ToyDepth(40), val_set=ToyDepth(10, seed=1))

    a = torch.load(single.latest_checkpoint, weights_only=True)
    b = torch.load(ddp_out / "latest.pt", weights_only=True)
    assert b["world_size"] == 2 and a["world_size"] == 1 and a["step"] == b["step"] == 7
    for k, v in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][k], v, rtol=1e-5, atol=1e-6)
    la = [r["loss"] for r in a["history"]["train"]]
    lb = [r["loss"] for r in b["history"]["train"]]
    assert len(la) == len(lb) == 7
    for x, y in zip(la, lb, strict=True):
        assert y == pytest.approx(x, rel=1e-5)
    # Validation is sharded over the processes and summed: the same numbers.
    assert b["metrics"]["val_rmse"] == pytest.approx(a["metrics"]["val_rmse"], rel=1e-5)
    assert la[-1] < la[0]  # training did move the weights
    # Each process read its own half of every global batch (4 of 8 samples per step), never the same.
    reads = [[int(v) for v in (ddp_out / f"reads{r}.txt").read_text().split()][1:] for r in range(2)]
    assert len(reads[0]) == len(reads[1]) == 7 * 4  # after the shape probe of sample 0
    for k in range(7):
        assert not set(reads[0][4 * k : 4 * k + 4]) & set(reads[1][4 * k : 4 * k + 4])


def test_local_processes_share_out_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from ssrdepth.training.distributed import DistInfo, set_up_process

    # 4 of a 64-core machine's cores allowed (a container), 2 local processes: 2 threads each
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    before = torch.get_num_threads()
    try:
        cfg = apply_overrides(TrainConfig(), ["threads=0"])
        set_up_process(cfg, DistInfo(rank=1, world=2, local_rank=1, local_world=2), torch.device("cpu"))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
