"""Contract tests over every registered model (shape, range, gradients, pinned parameter counts)."""

from __future__ import annotations

import math

import pytest
import torch

from ssrdepth.models import create_model, list_models

# Reference parameter counts of paper-spec.md's reading, d = 1 and d = 3.
PARAMS = {
    "C": (1_554_433, 1_555_585),
    "SC": (4_861_889, 4_863_169),
    "SCRX": (4_900_043, 4_902_475),
    "SCRXU": (5_052_492, 5_054_924),
    "SCRDU": (5_053_059, 5_055_491),
    "AH": (4_688_833, 4_689_985),
}


def test_registry_lists_the_six_networks() -> None:
    assert sorted(list_models()) == sorted(PARAMS)


@pytest.mark.parametrize("name", list(PARAMS))
@pytest.mark.parametrize("channels", [1, 3])
def test_parameter_count_matches_spec(name: str, channels: int) -> None:
    model = create_model(name, in_channels=channels)
    assert sum(p.numel() for p in model.parameters()) == PARAMS[name][channels == 3]


@pytest.mark.parametrize("name", list(PARAMS))
@pytest.mark.parametrize(("channels", "h", "w"), [(1, 37, 147), (3, 8, 8), (1, 13, 29), (3, 30, 11)])
def test_output_shape_and_range(name: str, channels: int, h: int, w: int) -> None:
    model = create_model(name, channels, width=0.25)
    x = torch.rand(2, channels, h, w)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 1, h, w)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


@pytest.mark.parametrize("name", list(PARAMS))
def test_every_parameter_gets_a_gradient(name: str) -> None:
    model = create_model(name, 3, width=0.25)
    y = model(torch.rand(2, 3, 24, 40))
    (y - 0.3).pow(2).sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert float(p.grad.abs().sum()) > 0.0, pname


def test_region_sizes_at_paper_resolution() -> None:
    # paper-spec: at 37×147 Region A gives 9×36 and the upsampling region 36×144.
    x = torch.rand(1, 1, 37, 147)
    assert create_model("SCRX").forward_features(x).shape[-2:] == (9, 36)
    assert create_model("SCRXU").forward_features(x).shape[-2:] == (36, 144)


def test_names_are_case_insensitive_with_aliases() -> None:
    assert create_model("scr").name == "SCRX"
    assert create_model("ScRuX").name == "SCRXU"
    assert create_model(" scrdu ").name == "SCRDU"


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'resnet'.*AH, C, SC, SCRX, SCRXU, SCRDU"):
        create_model("resnet")


def test_unknown_option_and_bad_values() -> None:
    with pytest.raises(ValueError, match="valid options: width"):
        create_model("C", depth=3)
    with pytest.raises(ValueError, match="valid values: none, batch, group"):
        create_model("C", norm="layer")
    with pytest.raises(ValueError, match="1 \\(grayscale\\) or 3 \\(RGB\\)"):
        create_model("C", in_channels=2)


def test_bad_input_shapes_say_what_is_expected() -> None:
    model = create_model("SC", 1, width=0.25)
    with pytest.raises(
        ValueError, match=r"expects a tensor of shape \(N, 1, H, W\) \(grayscale\), got \(1, 3, 16, 16\)"
    ):
        model(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="H, W ≥ 8, got H=7"):
        model(torch.rand(1, 1, 7, 32))
    with pytest.raises(ValueError, match="expects a tensor"):
        model(torch.rand(1, 16, 16))


def test_options_change_the_network() -> None:
    half = create_model("SCRX", width=0.5)
    assert sum(p.numel() for p in half.parameters()) < PARAMS["SCRX"][0] / 3
    bn = create_model("SC", norm="batch")
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in bn.modules())
    # Xu's skip adds no parameters but changes the output.
    a, b = create_model("SCRX", width=0.25, xu_skip=False), create_model("SCRX", width=0.25)  # default: on
    b.load_state_dict(a.state_dict())
    x = torch.rand(1, 1, 16, 16)
    assert not torch.allclose(a(x), b(x))
    # ceil-mode pooling keeps the odd row that floor mode drops.
    assert create_model("C", width=0.25, ceil_mode=True).forward_features(torch.rand(1, 1, 37, 147)).shape[
        -2:
    ] == (10, 37)


def test_channels_last_gives_the_same_result() -> None:
    model = create_model("SCRDU", 1, width=0.25).eval()
    x = torch.rand(2, 1, 37, 147)
    ref = model(x)
    out = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)


def test_tiny_overfit_loss_falls_tenfold() -> None:
    from ssrdepth.losses import mse

    torch.manual_seed(0)
    model = create_model("SC", 1, width=0.25)
    x = torch.rand(4, 1, 16, 32)
    # A smooth vertical-gradient target, like a road scene's disparity.
    target = torch.linspace(0.1, 0.9, 16).view(1, 1, 16, 1).expand(4, 1, 16, 32).contiguous()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = float(mse(model(x), target).detach())
    for _ in range(150):
        opt.zero_grad()
        loss = mse(model(x), target)
        loss.backward()
        opt.step()
    assert float(mse(model(x), target).detach()) < first / 10


@pytest.mark.parametrize("name", list(PARAMS))
def test_uncertainty_head_adds_one_channel_and_nothing_else(name: str) -> None:
    torch.manual_seed(0)
    plain = create_model(name, 1, width=0.25)
    torch.manual_seed(0)
    head = create_model(name, 1, width=0.25, uncertainty=True)
    # The head is one conv3×3 on Region A's last features (width·512 channels) → 1, with its bias.
    features = round(512 * 0.25)
    extra = sum(p.numel() for p in head.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == 9 * features + 1
    assert set(head.state_dict()) - set(plain.state_dict()) == {
        "uncertainty_head.conv.weight",
        "uncertainty_head.conv.bias",
    }
    assert (plain.out_channels, head.out_channels) == (1, 2)
    head.load_state_dict(plain.state_dict(), strict=False)
    x = torch.rand(2, 1, 21, 30)
    with torch.no_grad():
        y, y_plain = head.eval()(x), plain.eval()(x)
    assert y.shape == (2, 2, 21, 30)
    # Channel 0 is the plain network's map; the log-scale starts near log 0.1 (the head's bias).
    assert torch.equal(y[:, :1], y_plain)
    assert abs(float(y[:, 1].mean()) - math.log(0.1)) < 0.5
