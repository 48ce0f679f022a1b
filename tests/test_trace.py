"""``minialex trace`` times every layer of a step, forward and backward, and says where the rest went."""

import json

import numpy as np
import pytest

from minialex import backend, conv_algorithm, models, nn
from minialex.kernels import reference
from minialex.ops import winograd
from minialex.cli import main
from minialex.ops import cross_entropy, relu
from minialex.autograd import Tensor
from minialex.tools.trace import recording, trace_step, winograd_bytes


def test_trace_prints_and_writes_every_layer_with_positive_times(tmp_path, capsys):
    path = tmp_path / "trace.json"
    assert main(["trace", "--input-size", "65", "--batch", "2", "--warmup", "0", "--backend", "numpy",
                 "--json", str(path)]) == 0
    printed = capsys.readouterr().out
    trace = json.loads(path.read_text())
    rows = trace["rows"]
    assert [r["name"] for r in rows] == [str(i) for i in range(21)] + ["loss"]
    for r in rows:
        assert r["forward_ms"] > 0 and r["backward_ms"] > 0, r
        assert r["layer"] in printed
    conv1 = rows[0]
    assert conv1["layer"] == "Conv2d 1->96 11x11/4 p1" and conv1["output_shape"] == [2, 96, 15, 15]
    assert conv1["buffer_bytes"] == 1 * 11 * 11 * (2 * 15 * 15) * 4
    assert rows[1]["buffer_bytes"] == 0
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert trace["total"]["flops"] == sum(r["flops"] for r in rows) > 0
    assert "total" in printed and "backward() took" in printed


def test_trace_lenet_rejects_other_input_sizes(capsys):
    assert main(["trace", "--model", "lenet", "--resize", "32"]) == 2
    assert "lenet takes 28x28 inputs only" in capsys.readouterr().err


def test_recording_attributes_backward_closures_to_the_layer_that_made_them():
    net = models.lenet()
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
    with recording() as rec:
        h = x
        for name, layer in net.named_children():
            with rec.layer(name):
                h = layer(h)
        loss = cross_entropy(h, np.array([1, 2]))  # outside any layer: not timed
        assert rec.timings["0"].backward_s == 0.0
        loss.backward()
    assert rec.timings["0"].ops == ["conv2d"] and rec.timings["2"].ops == ["avg_pool2d"]
    assert all(t.forward_s > 0 and t.backward_s > 0 for t in rec.timings.values())
    assert net[0].weight.grad is not None


def test_recording_stops_observing_ops_when_the_block_ends_even_after_an_error():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(RuntimeError):
        with recording() as rec:
            raise RuntimeError("boom")
    with rec.layer("after"):
        relu(x).sum().backward()
    assert rec.timings["after"].ops == [] and rec.timings["after"].backward_s == 0.0


def test_trace_step_matches_summary_shapes():
    net = models.lenet()
    x = np.random.default_rng(1).standard_normal((3, 1, 28, 28)).astype(np.float32)
    trace = trace_step(net, x, np.array([0, 1, 2]))
    assert trace["rows"][5]["output_shape"] == [3, 16, 5, 5]
    assert np.isfinite(trace["loss"])


def test_trace_names_each_convs_algorithm_and_the_buffer_that_algorithm_allocates():
    net = models.lenet()  # conv 6->16 5x5 on 14x14 px: 10x10 outputs, 3x3 tiles of F(4x4, 5x5)
    x = np.random.default_rng(1).standard_normal((3, 1, 28, 28)).astype(np.float32)
    with conv_algorithm("im2col"):
        row = trace_step(net, x, np.array([0, 1, 2]))["rows"][3]
    assert row["algorithm"] == "im2col" and row["buffer_bytes"] == 6 * 5 * 5 * (3 * 10 * 10) * 4  # the col matrix
    with conv_algorithm("winograd"):
        trace = trace_step(net, x, np.array([0, 1, 2]))
    row = trace["rows"][3]
    # M, (a*a, OC, P) with a = 8 and P = 3 images x 3x3 tiles, is larger than V (C = 6 < OC = 16)
    assert row["algorithm"] == "winograd" and row["buffer_bytes"] == 8 * 8 * 16 * (3 * 3 * 3) * 4
    assert trace["conv_algorithm"] == "winograd" and trace["rows"][1]["algorithm"] == ""


def test_the_winograd_buffer_is_what_one_chunk_really_allocates(monkeypatch):
    """The V each chunk's input transform returns gives the chunk's P; the reported buffer is V or M of it."""
    layer = nn.Conv2d(6, 16, 3, padding=1, algorithm="winograd")
    x = Tensor(np.random.default_rng(2).standard_normal((5, 6, 13, 11)).astype(np.float32))
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 40_000)  # a few images per chunk
    vs = []
    transform = reference.winograd_input_transform
    monkeypatch.setattr(reference, "winograd_input_transform", lambda *a: vs.append(transform(*a)) or vs[-1])
    with backend.backend("numpy"):
        layer(x)
    assert len(vs) > 1, "the chunking this test is about did not happen"
    a = layer.tile_for(x.shape) + 3 - 1
    largest = max(6, 16) * a * a * vs[0].shape[2] * 4
    assert winograd_bytes(layer, x.shape, 4) == largest
