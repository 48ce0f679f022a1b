"""Factories with PyTorch's names (randn, rand, zeros, ones, tensor, arange), dtype names, and Size."""

import contextlib
import io

import numpy as np
import pytest

import minialex
from minialex import backend

from test_d2l import D2L_CHAPTER


# --- random factories ------------------------------------------------------------------------------------------

def test_size_as_ints_or_one_tuple():
    for make in (minialex.randn, minialex.rand, minialex.zeros, minialex.ones):
        assert make(2, 3).shape == make((2, 3)).shape == make([2, 3]).shape == (2, 3)
        assert make(()).shape == ()


def test_randn_is_the_seeded_host_generators_normal_draws():
    minialex.manual_seed(3)
    x = minialex.randn(2, 5)
    expected = np.random.default_rng(3).standard_normal((2, 5), dtype=np.float32)
    assert x.dtype == minialex.float32 and np.array_equal(x.numpy(), expected)
    minialex.manual_seed(3)
    assert np.array_equal(minialex.randn(2, 5).numpy(), expected)  # the seed repeats it


def test_random_factories_draw_the_same_numbers_on_every_engine():
    draws = {}
    for engine in ("numpy", "numba"):
        with backend.backend(engine):
            minialex.manual_seed(7)
            draws[engine] = (minialex.randn(3, 4).numpy(), minialex.rand(6, dtype=minialex.float64).numpy())
    assert all(np.array_equal(a, b) for a, b in zip(draws["numpy"], draws["numba"]))


def test_rand_is_in_the_unit_interval():
    x = minialex.rand(10000).numpy()
    assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() < 1.0 and 0.45 < x.mean() < 0.55


def test_random_tensors_can_require_grad():
    x = minialex.randn(3, requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.numpy())


def test_zeros_and_ones_take_any_dtype():
    assert minialex.zeros(2, dtype=minialex.int64).numpy().tolist() == [0, 0]
    assert minialex.ones(2, 2).dtype == np.float32 and minialex.ones(2, 2).numpy().sum() == 4
    assert minialex.ones(1, dtype=minialex.bool).dtype == np.bool_
    assert minialex.zeros(3, dtype="float64").dtype == np.float64


# --- tensor and arange, against PyTorch ------------------------------------------------------------------------

TENSOR_DATA = [1, 2.5, True, [1, 2, 3], [1.0, 2], [[1, 2], [3, 4]], [True, False],
               np.arange(3, dtype=np.float64), np.arange(3, dtype=np.int32), np.float64(1.5)]


@pytest.mark.parametrize("data", TENSOR_DATA, ids=repr)
def test_tensor_infers_pytorchs_dtype(data):
    torch = pytest.importorskip("torch")
    t, m = torch.tensor(data), minialex.tensor(data)
    assert str(t.dtype) == f"torch.{m.dtype}"
    assert np.array_equal(m.numpy(), t.numpy()) and m.shape == tuple(t.shape)


def test_tensor_copies_its_data_and_takes_a_dtype():
    a = np.zeros(3, np.float32)
    t = minialex.tensor(a)
    a[0] = 1
    assert t.numpy()[0] == 0
    assert minialex.tensor([1, 2], dtype=minialex.float64).dtype == np.float64
    assert minialex.tensor(minialex.ones(2)).numpy().tolist() == [1.0, 1.0]


ARANGE_CASES = [(5,), (2, 7), (10, 0, -3), (0, 1, 0.1), (1, 2.5, 0.5), (0.0, 3), (-1, 1, 0.25), (5, 5),
                (0, 1, 0.3, "float64"), (0.5, 3, 1, "int64"), (-2.5, 1, 1, "int64"), (0, 5.5, 1, "int64"),
                (0, 4, 1, "float32")]


@pytest.mark.parametrize("args", ARANGE_CASES, ids=repr)
def test_arange_equals_pytorchs(args):
    torch = pytest.importorskip("torch")
    dtype = args[3] if len(args) == 4 else None
    args = args[:3]
    t = torch.arange(*args, dtype=None if dtype is None else getattr(torch, dtype))
    m = minialex.arange(*args, dtype=dtype)
    assert str(t.dtype) == f"torch.{m.dtype}", args
    assert m.numpy().tolist() == t.numpy().tolist(), args


def test_arange_by_hand():
    assert minialex.arange(4).numpy().tolist() == [0, 1, 2, 3] and minialex.arange(4).dtype == np.int64
    assert minialex.arange(0, 1, 0.25).numpy().tolist() == [0.0, 0.25, 0.5, 0.75]
    assert minialex.arange(0, 1, 0.25).dtype == np.float32


# --- bad arguments ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: minialex.randn(2, -1), r"size must be non-negative ints, given as f\(2, 3\) or f\(\(2, 3\)\); got \(2, -1\)"),
    (lambda: minialex.zeros(2, 3.0), "size must be non-negative ints"),
    (lambda: minialex.ones(True), "size must be non-negative ints"),
    (lambda: minialex.randn(2, dtype=minialex.int64), "random numbers come in float32 or float64, got dtype int64"),
    (lambda: minialex.zeros(2, dtype="not a dtype"), "dtype must be a dtype such as minialex.float32"),
    (lambda: minialex.tensor(["a"]), "tensor: expected numbers, bools or"),
    (lambda: minialex.arange(0, 1, 0), "step must be nonzero"),
    (lambda: minialex.arange(0, 3, 0.5, dtype=minialex.int64), "step must be nonzero"),
    (lambda: minialex.arange(5, 1), "end 1 lies on the wrong side of start 5 for step 1"),
    (lambda: minialex.arange("3"), "end must be a number, got '3'"),
])
def test_bad_arguments_are_clear_value_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# --- names -----------------------------------------------------------------------------------------------------

def test_dtype_names_are_numpys_and_compare_with_tensor_dtypes():
    assert minialex.float32 is minialex.float is np.float32 and minialex.long is minialex.int64 is np.int64
    assert minialex.double is np.float64 and minialex.bool is np.bool_
    assert minialex.randn(2).dtype == minialex.float32


def test_the_factory_named_tensor_leaves_the_module_importable():
    from minialex.autograd import Tensor
    assert isinstance(minialex.tensor([1.0]), Tensor) and minialex.Tensor is Tensor


def test_size_prints_as_pytorchs_and_compares_as_a_tuple():
    s = minialex.randn(1, 96, 54, 54).shape
    assert isinstance(s, minialex.Size) and s == (1, 96, 54, 54) and hash(s) == hash((1, 96, 54, 54))
    assert repr(s) == str(s) == "minialex.Size([1, 96, 54, 54])"
    assert f"got shape {tuple(s)}" == "got shape (1, 96, 54, 54)"  # the form the library's messages write
    assert s.numel() == 96 * 54 * 54 and minialex.Size(()).numel() == 1
    assert s[1:] == (96, 54, 54) and np.zeros(s).shape == s


# The chapter's first cells, the network and its shape loop, as they are (the whole chapter is in test_d2l.py)
D2L_SHAPE_LOOP = D2L_CHAPTER[:D2L_CHAPTER.index("batch_size = 128")]


def test_d2ls_shape_loop_runs_as_written():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(D2L_SHAPE_LOOP, {})
    lines = out.getvalue().splitlines()
    assert len(lines) == 21
    assert lines[0] == "Conv2d output shape:\t minialex.Size([1, 96, 54, 54])"
    assert lines[12] == "MaxPool2d output shape:\t minialex.Size([1, 256, 5, 5])"
    assert lines[-1] == "Linear output shape:\t minialex.Size([1, 10])"


def test_minialex_tensor_is_the_factory_and_no_module_hides_behind_it():
    """``minialex.tensor`` is torch.tensor's factory; no submodule of that name exists for it to shadow, so an
    ``import minialex.tensor`` does not hand back a function where a module was meant."""
    import importlib
    import importlib.util
    import sys
    assert callable(minialex.tensor) and isinstance(minialex.tensor([1.0]), minialex.Tensor)
    assert importlib.util.find_spec("minialex.tensor") is None and "minialex.tensor" not in sys.modules
    assert importlib.import_module("minialex.autograd").Tensor is minialex.Tensor


def test_a_shape_in_an_f_string_prints_as_print_shows_it():
    x = minialex.zeros(2, 3)
    assert f"{x.shape}" == str(x.shape) == repr(x.shape) == "minialex.Size([2, 3])"
    assert f"{x.shape:>24}" == "   minialex.Size([2, 3])"
    assert x.shape == (2, 3)  # still a tuple
