"""no_grad, the conv-algorithm default, the engine and the op observers hold for the thread that set them.

Each test runs two threads in lock step (one waits on an Event the other sets), so the interleaving that broke
module globals -- one thread inside a block while the other enters or leaves its own -- happens every time.
"""

import threading

import numpy as np
import pytest

import minialex
from minialex import Tensor, backend, no_grad
from minialex.ops import conv_algorithm
from minialex.tensor import is_grad_enabled, observe_ops


class Worker(threading.Thread):
    """A thread that runs ``fn(step)``; ``step(name)`` tells the other side and waits for its answer."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.result, self.error = fn, None, None

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as e:  # noqa: BLE001 -- handed to the main thread by finish()
            self.error = e

    def finish(self):
        self.join(timeout=30)
        assert not self.is_alive(), "worker thread hung"
        if self.error is not None:
            raise self.error
        return self.result


def events(*names):
    return {n: threading.Event() for n in names}


def wait(event):
    assert event.wait(timeout=30), "the other thread never got there"


@pytest.fixture(autouse=True)
def _process_defaults(monkeypatch):
    """Each test starts from the process defaults (numba engine, no use_conv_algorithm) and leaves them."""
    monkeypatch.setattr(conv_algorithm, "_default", None)
    monkeypatch.delenv("MINIALEX_CONV_ALGORITHM", raising=False)
    monkeypatch.setattr(backend, "_process", backend._make_backend("numba"))


def test_no_grad_in_an_evaluation_thread_leaves_the_training_thread_building_graphs():
    e = events("inside", "done")

    def evaluate():
        with no_grad():
            e["inside"].set()
            wait(e["done"])
            return is_grad_enabled(), (Tensor([1.0], requires_grad=True) * 2.0).requires_grad

    worker = Worker(evaluate)
    worker.start()
    wait(e["inside"])
    assert is_grad_enabled()
    y = Tensor([1.0], requires_grad=True) * 2.0   # the training thread, while the other is inside no_grad()
    e["done"].set()
    assert worker.finish() == (False, False)
    assert y.requires_grad and not y.is_leaf
    y.sum().backward()


def test_a_new_thread_starts_with_gradients_on_even_if_its_parent_is_in_no_grad():
    with no_grad():
        worker = Worker(is_grad_enabled)
        worker.start()
        assert worker.finish() is True


def test_two_threads_nesting_conv_algorithm_each_get_and_restore_their_own():
    e = events("a_inside", "b_inside", "a_left")

    def a():
        with conv_algorithm.conv_algorithm("im2col"):
            e["a_inside"].set()
            wait(e["b_inside"])
            seen = conv_algorithm.get_conv_algorithm()
        e["a_left"].set()  # leaves while b is still inside its block
        return seen

    def b():
        wait(e["a_inside"])
        with conv_algorithm.conv_algorithm("winograd"):
            e["b_inside"].set()
            wait(e["a_left"])
            seen = conv_algorithm.get_conv_algorithm()
        return seen, conv_algorithm.get_conv_algorithm()

    workers = [Worker(a), Worker(b)]
    for w in workers:
        w.start()
    assert workers[0].finish() == "im2col"
    assert workers[1].finish() == ("winograd", "auto")
    assert conv_algorithm.get_conv_algorithm() == "auto"


def test_a_new_thread_sees_the_process_conv_algorithm_not_another_threads_block():
    minialex.use_conv_algorithm("im2col")
    with conv_algorithm.conv_algorithm("winograd"):
        worker = Worker(conv_algorithm.get_conv_algorithm)
        worker.start()
        assert worker.finish() == "im2col"
        assert conv_algorithm.get_conv_algorithm() == "winograd"
        minialex.use_conv_algorithm("auto")  # inside a block: the block's default, until it ends
        assert conv_algorithm.get_conv_algorithm() == "auto"
    assert conv_algorithm.get_conv_algorithm() == "im2col"


def test_a_backend_block_in_one_thread_leaves_the_others_engine_alone():
    e = events("inside", "checked")

    def other():
        with backend.backend("numpy"):
            e["inside"].set()
            wait(e["checked"])
            return backend.get_backend().name, Tensor(np.ones(2)).data.__class__.__module__

    worker = Worker(other)
    worker.start()
    wait(e["inside"])
    name = backend.get_backend().name
    e["checked"].set()
    assert worker.finish() == ("numpy", "numpy")
    assert name == "numba" and backend.get_backend().name == "numba"


def test_use_backend_is_the_process_choice_that_new_threads_see():
    backend.use_backend("numpy")
    worker = Worker(lambda: backend.get_backend().name)
    worker.start()
    assert worker.finish() == "numpy"
    with backend.backend("numba"):
        assert backend.get_backend().name == "numba"
        backend.use_backend("numpy")  # inside a block: the block's engine, until it ends
        assert backend.get_backend().name == "numpy"
        worker = Worker(lambda: backend.get_backend().name)
        worker.start()
        assert worker.finish() == "numpy"
    assert backend.get_backend().name == "numpy"


def test_an_observer_sees_the_ops_of_its_own_thread_only():
    e = events("observing", "other_done")

    def watch():
        seen = []

        def record(op, backward):
            seen.append(op)
            return backward
        with observe_ops(record):
            e["observing"].set()
            wait(e["other_done"])
            Tensor([1.0], requires_grad=True) * 2.0
        return seen

    worker = Worker(watch)
    worker.start()
    wait(e["observing"])
    Tensor([1.0], requires_grad=True) + 3.0  # made in this thread while the other observes
    e["other_done"].set()
    assert worker.finish() == ["mul"]
