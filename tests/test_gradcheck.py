"""The checker itself must catch a wrong backward and say where."""

import numpy as np
import pytest

from minialex import Tensor, gradcheck
from minialex.gradcheck import GradcheckError


def wrong_square(x):
    return Tensor.from_op(x.data ** 2, (x,), lambda g: (g * x.data,), "wrong_square")  # should be 2x


def test_gradcheck_catches_a_wrong_backward_and_names_the_element():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 \(3,\): FAIL .* worst at"):
        gradcheck(wrong_square, [x])
    result = gradcheck(wrong_square, [x], raise_exception=False)
    assert not result.ok and result.max_rel_error > 0.3


def test_gradcheck_passes_a_right_backward():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    right = lambda x: Tensor.from_op(x.data ** 2, (x,), lambda g: (2 * g * x.data,), "square")  # noqa: E731
    assert gradcheck(right, [x]).max_rel_error < 1e-7


def test_gradcheck_needs_float64():
    with pytest.raises(ValueError, match="need float64"):
        gradcheck(wrong_square, [Tensor(np.ones(2, np.float32), requires_grad=True)])


def test_gradcheck_samples_large_inputs():
    x = Tensor(np.random.default_rng(0).standard_normal(1000), requires_grad=True)
    result = gradcheck(lambda t: t * t, [x], max_elements=20)
    assert result.inputs[0].checked == 20
