"""A new block is one registry entry: this module registers a toy block (one 3x3 conv, BN, activation, with a
residual where the shape stays) and takes it through a space file, sampling, training, CSV and pycls export and
import, with no other file of dse knowing it."""

import json

import pytest
import torch
from torch import nn

import dse
from dse.models.blocks import BLOCK_TYPES, BlockType, register_block
from dse.models.layers import bn_cx, conv_cx
from conftest import PAIR_TRAIN, cli


def toy_cx(cx, w_in, w_out, stride, p):
    """3x3 conv (stride) + BN; the residual adds nothing to count."""
    return bn_cx(conv_cx(cx, w_in, w_out, 3, stride), w_out)


class ToyBlock(nn.Module):
    def __init__(self, w_in, w_out, stride, p, act="relu"):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(w_in, w_out, 3, stride, 1, bias=False), nn.BatchNorm2d(w_out))
        self.act = nn.ReLU() if act == "relu" else nn.SiLU()
        self.skip = w_in == w_out and stride == 1

    def forward(self, x):
        y = self.f(x)
        return self.act(x + y if self.skip else y)


TOY = BlockType("toy", "one 3x3 conv, BN, activation; x added where the shape stays", toy_cx, ToyBlock,
                pycls="toy_block")
SPACE = """
name = "toy_space"
family = "anynet"
block = "toy"
stem = "cifar"
stem_w = 8
strides = [1, 2, 2]
stages = 3

[params.d]
dist = "choice"
values = [1, 2, 3]

[params.w]
dist = "choice"
values = [8, 16, 24, 32]
"""


@pytest.fixture
def toy():
    register_block(TOY)
    yield TOY
    BLOCK_TYPES.pop("toy")


def test_a_registered_toy_block_goes_through_sample_train_export_and_import(toy, tmp_path):
    (tmp_path / "toy.toml").write_text(SPACE)
    code, out, err = cli(tmp_path, "sample", "--space", "toy.toml", "-n", "5", "--flops", "10K:5M",
                         "--resolution", "16", "--num-classes", "10")
    assert code == 0, err
    st = dse.Study(tmp_path / "dse.sqlite")
    recs = st.records("toy_space")
    assert len(recs) == 5 and {r.arch.block for r in recs} == {"toy"}
    for r in recs:  # the counts are the registered count's, equal to the built module's parameters
        from dse.models.anynet import AnyNet

        net = AnyNet(r.arch, "simple", 3, 10)
        assert sum(p.numel() for p in net.parameters()) == r.params
        assert net(torch.zeros(2, 3, 16, 16)).shape == (2, 10)
    code, out, err = cli(tmp_path, "train", *PAIR_TRAIN)
    assert code == 0, err
    assert all(r.status == "done" and 0 <= r.error <= 100 for r in st.records("toy_space"))
    # CSV out and in: the same networks, counts and errors
    code, _, err = cli(tmp_path, "export", "--sweep", "toy_space", "-o", "toy.csv")
    assert code == 0, err
    code, _, err = cli(tmp_path, "import", "toy.csv", "--sweep", "back", "--resolution", "16", "--num-classes", "10")
    assert code == 0, err
    got = {r.idx: (r.arch, r.flops, r.params, r.acts, r.error) for r in st.records("back")}
    assert got == {r.idx: (r.arch, r.flops, r.params, r.acts, r.error) for r in st.records("toy_space")}
    # pycls out: the block's pycls name, its strides and stem width (pycls itself has no such block to build)
    st.export_pycls(tmp_path / "sw", ["toy_space"])
    cfg = (tmp_path / "sw" / "cfgs" / "000000.yaml").read_text()
    assert "BLOCK_TYPE: toy_block" in cfg and "STRIDES: [1, 2, 2]" in cfg and "STEM_W: 8" in cfg
    summary = json.loads((tmp_path / "sw" / "cfgs_summary.json").read_text())
    assert len(summary) == 5


def test_without_its_entry_the_toy_block_is_an_error_naming_the_registered(tmp_path):
    (tmp_path / "toy.toml").write_text(SPACE)
    code, _, err = cli(tmp_path, "sample", "--space", "toy.toml", "-n", "5", "--flops", "10K:5M",
                       "--resolution", "16")
    assert code == 2 and "block: got 'toy'; allowed:" in err and "res_bottleneck" in err


def test_a_block_module_named_in_dse_blocks_registers_in_a_fresh_process(tmp_path):
    """What a spawned worker (a GPU, Ray) sees: the modules of DSE_BLOCKS are imported with the registry."""
    import os
    import subprocess
    import sys

    (tmp_path / "toyplug.py").write_text(
        "from dse.models.blocks import BlockType, register_block\n"
        "from dse.models.layers import bn_cx, conv_cx\n"
        "register_block(BlockType('toy2', 'a conv', lambda cx, a, b, s, p: bn_cx(conv_cx(cx, a, b, 3, s), b), "
        "'torch.nn:Identity'))\n")
    env = dict(os.environ, DSE_BLOCKS="toyplug", PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    probe = "from dse.models import Arch; print(Arch((1,), (8,), block='toy2').key())"
    p = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "block=toy2;d=1;w=8", p.stderr
    env["DSE_BLOCKS"] = "no_such_module_here"
    p = subprocess.run([sys.executable, "-m", "dse", "spaces"], env=env, capture_output=True, text=True)
    assert p.returncode == 2 and "DSE_BLOCKS names 'no_such_module_here', which cannot be imported" in p.stderr
    assert "Traceback" not in p.stderr


PLUGINS = {
    "missing": ("pluginbad_missing_module", None, "ModuleNotFoundError"),
    "raising": ("pluginbad_raising", "raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
    "clashing": ("pluginbad_clash", "from dse.models.blocks import BlockType, register_block\n"
                 "register_block(BlockType('res_basic', 'a clash', lambda cx, a, b, s, p: cx, 'torch.nn:Identity'))\n",
                 "'res_basic' is registered already"),
    "exiting": ("pluginbad_exit", "import sys\nsys.exit(3)\n", "it called sys.exit(3)"),
    "reserved": ("pluginbad_reserved", "from dse.models.blocks import BlockType, register_block\n"
                 "register_block(BlockType('x', 'x again', lambda cx, a, b, s, p: cx, 'torch.nn:Identity'))\n",
                 "block name 'x' cannot be used"),
}


@pytest.mark.parametrize("case", sorted(PLUGINS))
def test_a_broken_dse_blocks_entry_point_is_a_clean_error(tmp_path, case):
    """An installed plugin (a dse.blocks entry point) that is missing, raises, clashes, exits or takes a reserved
    name: dse sample and dse spaces exit 2 naming the entry point, with no traceback."""
    import os
    import subprocess
    import sys

    module, code, words = PLUGINS[case]
    dist = tmp_path / "dseplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dseplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[dse.blocks]\nmine = {module}\n")
    if code is not None:
        (tmp_path / f"{module}.py").write_text(code)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    env.pop("DSE_BLOCKS", None)
    for args in (["spaces"], ["sample", "--space", "regnetx", "-n", "2", "--db", str(tmp_path / "s.sqlite")]):
        p = subprocess.run([sys.executable, "-m", "dse", *args], env=env, capture_output=True, text=True,
                           cwd=tmp_path)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert f"the dse.blocks entry point 'mine' ({module})" in p.stderr and words in p.stderr, p.stderr
        assert "Traceback" not in p.stderr
    assert not (tmp_path / "s.sqlite").exists()


@pytest.mark.parametrize("name", ["x", "y", "", "two words"])
def test_a_block_name_no_space_file_could_use_is_refused(name):
    from dse.models.blocks import BlockType, register_block

    with pytest.raises(ValueError, match="cannot be used"):
        register_block(BlockType(name, "doc", lambda cx, a, b, s, p: cx, "torch.nn:Identity"))


def test_a_block_whose_count_raises_is_named(tmp_path):
    from dse.errors import DseError
    from dse.models import Arch
    from dse.models.blocks import BLOCK_TYPES, BlockType, register_block
    from dse.models.complexity import complexity_many

    def bad(cx, a, b, s, p):
        raise ZeroDivisionError("my maths")

    register_block(BlockType("toy_bad_count", "raises", bad, "torch.nn:Identity"))
    try:
        with pytest.raises(DseError, match="block 'toy_bad_count' .*its count failed: ZeroDivisionError: my maths"):
            complexity_many([Arch((1,), (8,), block="toy_bad_count")], resolution=16, stem="cifar")
    finally:
        BLOCK_TYPES.pop("toy_bad_count", None)
