"""minialex.d2l: d2l's helpers on minialex, against cases worked by hand."""

import re
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

from minialex import Tensor, backend, d2l, models, nn
from minialex.data import DataError, DataLoader, load_dataset


# --- Accumulator, accuracy, Timer ------------------------------------------------------------------------------

def test_accumulator_sums_each_variable():
    acc = d2l.Accumulator(2)
    acc.add(2, 3)
    acc.add(1.5, np.int64(1))
    assert acc.data == [3.5, 4.0] and acc[0] == 3.5 and acc[1] == 4.0 and len(acc) == 2
    acc.reset()
    assert acc.data == [0.0, 0.0]


def test_accumulator_refuses_the_wrong_number_of_values():
    with pytest.raises(ValueError, match="expected 2 values, got 3"):
        d2l.Accumulator(2).add(1, 2, 3)
    with pytest.raises(ValueError, match="positive number of variables, got 0"):
        d2l.Accumulator(0)


def test_accuracy_counts_the_correct_rows_as_a_float():
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], np.float32)
    labels = np.array([1, 1, 1])
    assert d2l.accuracy(logits, labels) == 2.0 and isinstance(d2l.accuracy(logits, labels), float)
    assert d2l.accuracy(Tensor(logits), Tensor(labels)) == 2.0
    assert d2l.accuracy(np.array([0, 1, 1]), labels) == 2.0  # predicted labels, not logits


def test_accuracy_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="2 predictions for 3 labels"):
        d2l.accuracy(np.eye(2), np.array([0, 1, 1]))


def test_timer_records_the_intervals_of_its_clock():
    ticks = iter([10.0, 11.5, 12.0, 14.5])
    timer = d2l.Timer(clock=lambda: next(ticks))   # start at 10.0
    assert timer.stop() == 1.5
    timer.start()                                  # 12.0
    assert timer.stop() == 2.5
    assert timer.times == [1.5, 2.5] and timer.sum() == 4.0 and timer.avg() == 2.0 and timer.cumsum() == [1.5, 4.0]


def test_timer_on_the_real_clock():
    timer = d2l.Timer()
    time.sleep(0.02)
    assert 0.02 <= timer.stop() < 1.0
    with pytest.raises(ValueError, match="no time recorded yet"):
        d2l.Timer().avg()


# --- devices ---------------------------------------------------------------------------------------------------

def test_try_gpu_is_the_cpu_without_cupy_devices(monkeypatch):
    monkeypatch.setattr(d2l, "cuda_device_count", lambda: 0)
    device = d2l.try_gpu()
    assert str(device) == "cpu" and repr(device) == "device(type='cpu')" and device.engine in ("numpy", "numba")
    assert [str(d) for d in d2l.try_all_gpus()] == ["cpu"]


def test_try_gpu_here():
    # this machine's answer: cuda:0 only if CuPy is installed and sees a device
    from minialex.backend import cuda_device_count
    assert str(d2l.try_gpu()) == ("cuda:0" if cuda_device_count() else "cpu")


def test_try_gpu_names_cuda_devices_as_torch_does(monkeypatch):
    monkeypatch.setattr(d2l, "cuda_device_count", lambda: 2)
    assert str(d2l.try_gpu()) == "cuda:0" and str(d2l.try_gpu(1)) == "cuda:1" and str(d2l.try_gpu(2)) == "cpu"
    assert repr(d2l.try_gpu(1)) == "device(type='cuda', index=1)" and d2l.try_gpu().engine == "cupy"
    assert [str(d) for d in d2l.try_all_gpus()] == ["cuda:0", "cuda:1"]


@pytest.mark.parametrize("spec, expected", [("cpu", "cpu"), ("cuda", "cuda:0"), ("cuda:3", "cuda:3")])
def test_device_parse(spec, expected):
    assert str(d2l.Device.parse(spec)) == expected


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "cpu:0", ""])
def test_device_parse_refuses_what_torch_would(spec):
    with pytest.raises(ValueError, match="expected 'cpu', 'cuda' or 'cuda:N'"):
        d2l.Device.parse(spec)


# --- evaluate_accuracy_gpu -------------------------------------------------------------------------------------

def identity_classifier():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    net[0].weight.data[...] = np.eye(2)
    net[0].bias.data[...] = 0
    return net


BATCHES = [(np.array([[1.0, 0.0], [0.0, 1.0]], np.float32), np.array([0, 1])),
           (np.array([[2.0, 0.5]], np.float32), np.array([1]))]


def test_evaluate_accuracy_is_the_fraction_right_in_eval_mode():
    net = identity_classifier()
    assert d2l.evaluate_accuracy_gpu(net, BATCHES) == pytest.approx(2 / 3)
    assert not net.training  # dropout off, as d2l's net.eval()
    assert d2l.evaluate_accuracy_gpu(net, BATCHES, device="cpu") == pytest.approx(2 / 3)


def test_evaluate_accuracy_refuses_a_device_that_is_not_here(monkeypatch):
    monkeypatch.setattr(backend, "_load_cupy", lambda: (_ for _ in ()).throw(backend.BackendUnavailable("no CuPy")))
    with pytest.raises(RuntimeError, match=r"device cuda:3 is not available: no CuPy"):
        d2l.evaluate_accuracy_gpu(identity_classifier(), BATCHES, device="cuda:3")
    with pytest.raises(ValueError, match="gave no examples"):
        d2l.evaluate_accuracy_gpu(identity_classifier(), [])


# --- data ------------------------------------------------------------------------------------------------------

def test_load_data_fashion_mnist_gives_d2ls_batches():
    try:
        train_iter, test_iter = d2l.load_data_fashion_mnist(32, 40, limit=64, download=False, progress=False)
    except DataError as e:
        pytest.skip(f"Fashion-MNIST is not on this machine: {e}")
    X, y = next(iter(train_iter))
    assert X.shape == (32, 1, 40, 40) and X.dtype == np.float32 and 0 <= X.numpy().min() and X.numpy().max() <= 1
    assert y.shape == (32,) and y.dtype == np.int64
    assert len(train_iter) == len(test_iter) == 2 and not test_iter.shuffle


# --- Animator --------------------------------------------------------------------------------------------------

def test_animator_draws_every_point_to_a_png(tmp_path):
    path = tmp_path / "curves.png"
    animator = d2l.Animator(xlabel="epoch", xlim=[1, 2], legend=["train loss", "train acc", "test acc"], path=path)
    animator.add(0.5, (1.2, 0.6, None))       # test accuracy comes once an epoch
    animator.add(1, (0.9, 0.7, 0.72))
    assert animator.X == [[0.5, 1], [0.5, 1], [1]] and animator.Y == [[1.2, 0.9], [0.6, 0.7], [0.72]]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = animator.axes[0].get_lines()
    assert [list(line.get_ydata()) for line in lines] == animator.Y
    assert [t.get_text() for t in animator.axes[0].get_legend().get_texts()] == ["train loss", "train acc", "test acc"]
    assert animator.axes[0].get_xlabel() == "epoch" and animator.axes[0].get_xlim() == (1, 2)
    assert not list(tmp_path.glob(".*.tmp"))


def test_animator_in_a_terminal_writes_animator_png(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    animator = d2l.Animator(nrows=1, ncols=2)
    animator.add([1, 2], [3, 4])
    assert (tmp_path / "animator.png").exists() and len(animator.axes) == 2 and animator.X == [[1], [2]]


def test_animator_in_a_notebook_displays_inline(tmp_path, monkeypatch):
    shown = []
    display = types.SimpleNamespace(display=shown.append, Image=lambda data: ("png", data),
                                    clear_output=lambda wait: shown.append(("clear", wait)))
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(display=display))
    monkeypatch.setattr(d2l, "_in_notebook", lambda: True)
    monkeypatch.chdir(tmp_path)
    d2l.Animator().add(1, 2)
    clear, (kind, png) = shown
    assert kind == "png" and png[:4] == b"\x89PNG" and clear == ("clear", True)
    assert not list(tmp_path.iterdir())  # no file unless a path is given


def test_animator_not_in_a_notebook_here():
    assert not d2l._in_notebook()


def test_animator_refuses_inconsistent_points(tmp_path):
    animator = d2l.Animator(path=tmp_path / "a.png")
    with pytest.raises(ValueError, match="2 x values for 3 y values"):
        animator.add([1, 2], [1, 2, 3])
    animator.add(1, (1, 2))
    with pytest.raises(ValueError, match="3 values, but the first add\\(\\) drew 2 lines"):
        animator.add(2, (1, 2, 3))
    with pytest.raises(ValueError, match="nrows must be a positive int, got 0"):
        d2l.Animator(nrows=0)


# --- train_ch6 and the chapter's code --------------------------------------------------------------------------

D2L_CLOSING_LINES = (r"loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}\n"
                     r"\d+\.\d examples/sec on cpu\n$")


@pytest.fixture
def fashion_mnist():
    try:
        return d2l.load_data_fashion_mnist(16, limit=512, seed=0, download=False, progress=False)
    except DataError as e:
        pytest.skip(f"Fashion-MNIST is not on this machine: {e}")


def test_train_ch6_learns_a_few_hundred_real_images_and_prints_d2ls_lines(fashion_mnist, tmp_path, capsys,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    with backend.backend("numpy"):
        train_iter, test_iter = fashion_mnist
        history = d2l.train_ch6(models.lenet_relu_maxpool(), train_iter, test_iter, 2, 0.1, "cpu")
    out = capsys.readouterr().out
    assert out.startswith("training on cpu\n")
    assert re.search(D2L_CLOSING_LINES, out), out
    assert f"test acc {history[-1]['test_acc']:.3f}\n" in out
    assert history[-1]["test_acc"] >= 0.3  # chance is 0.1
    assert (tmp_path / "animator.png").read_bytes()[:4] == b"\x89PNG"


def test_train_ch6_plots_a_point_every_fifth_of_an_epoch(tmp_path, monkeypatch):
    added = []
    monkeypatch.setattr(d2l.Animator, "add", lambda self, x, y: added.append((x, y)))
    train_set, test_set = load_dataset("synthetic", n_train=160, n_test=32)
    with backend.backend("numpy"):
        d2l.train_ch6(models.lenet_relu_maxpool(), DataLoader(train_set, 16, seed=0),
                      DataLoader(test_set, 16, shuffle=False),
                      2, 0.05, "cpu", path=tmp_path / "plot.png")
    xs = [x for x, _ in added]  # 10 batches an epoch: a train point every 2 batches, test accuracy at 1 and 2
    assert xs == [0.2, 0.4, 0.6, 0.8, 1.0, 1, 1.2, 1.4, 1.6, 1.8, 2.0, 2]
    assert all(y[2] is None for x, y in added if isinstance(x, float)) and added[5][1][:2] == (None, None)


# d2l's AlexNet chapter (PyTorch edition, section 7.1 / 8.1), its code cells as they are, below minialex's imports.
D2L_CHAPTER = """
import minialex as torch
from minialex import nn
from minialex import d2l

net = nn.Sequential(
    nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
    nn.MaxPool2d(kernel_size=3, stride=2),
    nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
    nn.MaxPool2d(kernel_size=3, stride=2),
    nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
    nn.MaxPool2d(kernel_size=3, stride=2),
    nn.Flatten(),
    nn.Linear(6400, 4096), nn.ReLU(),
    nn.Dropout(p=0.5),
    nn.Linear(4096, 4096), nn.ReLU(),
    nn.Dropout(p=0.5),
    nn.Linear(4096, 10))

X = torch.randn(1, 1, 224, 224)
for layer in net:
    X=layer(X)
    print(layer.__class__.__name__,'output shape:\\t',X.shape)

batch_size = 128
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size, resize=224)

lr, num_epochs = 0.01, 10
d2l.train_ch6(net, train_iter, test_iter, num_epochs, lr, d2l.try_gpu())
"""

# Made small to run in seconds: 65 px (AlexNet's smallest input: its last feature map is 1 x 1, so the first
# dense layer takes 256 inputs), 256 images, one epoch.
SMALL = {"224, 224": "65, 65", "nn.Linear(6400,": "nn.Linear(256,", "resize=224)": "resize=65, limit=256)",
         "0.01, 10": "0.01, 1"}


def test_the_chapters_code_runs_as_written_below_three_import_lines(fashion_mnist, tmp_path, capsys, monkeypatch):
    text = D2L_CHAPTER
    for old, new in SMALL.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    monkeypatch.chdir(tmp_path)
    with backend.backend("numba"):
        exec(text, {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Conv2d output shape:\t minialex.Size([1, 96, 15, 15])"
    assert lines[13:15] == ["Flatten output shape:\t minialex.Size([1, 256])",
                            "Linear output shape:\t minialex.Size([1, 4096])"]
    assert lines[21] == "training on cpu"
    # before d2l's two closing lines, on a fresh machine: the compile notice and the warm-up left out of examples/sec
    assert re.fullmatch(r"(compiling Numba kernels .*\n)?(\(examples/sec leaves out the first step: .*\)\n)?"
                        + D2L_CLOSING_LINES, "\n".join(lines[22:]) + "\n")
    assert (tmp_path / "animator.png").exists()


def test_porting_from_d2l_shows_the_chapters_code_as_the_test_runs_it():
    doc = (Path(__file__).parent.parent / "docs" / "porting_from_d2l.md").read_text()
    assert D2L_CHAPTER.strip() in doc


def test_train_ch6_takes_a_list_of_batches(tmp_path, monkeypatch, capsys):
    """d2l's loops take any iterable of (X, y) with len(); this used to fail with AttributeError on .size."""
    monkeypatch.chdir(tmp_path)
    train_set, test_set = load_dataset("synthetic", n_train=80, n_test=32)
    with backend.backend("numpy"):
        batches = list(DataLoader(train_set, 16, seed=0))
        history = d2l.train_ch6(models.lenet_relu_maxpool(), batches, batches[:2], 1, 0.05, "cpu")
    assert len(history) == 1 and "examples/sec on cpu" in capsys.readouterr().out


# d2l's LeNet chapter (PyTorch edition, section 6.6), its code cells as they are -- the network, the shape loop, and
# the chapter's own evaluate_accuracy_gpu and train_ch6 -- below minialex's imports.
LENET_CHAPTER = '''
import minialex as torch
from minialex import nn
from minialex import d2l

net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.Sigmoid(),
    nn.Linear(84, 10))

X = torch.rand(size=(1, 1, 28, 28), dtype=torch.float32)
for layer in net:
    X = layer(X)
    print(layer.__class__.__name__,'output shape: \\t',X.shape)

batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size=batch_size)

def evaluate_accuracy_gpu(net, data_iter, device=None): #@save
    """Compute the accuracy for a model on a dataset using a GPU."""
    if isinstance(net, nn.Module):
        net.eval()  # Set the model to evaluation mode
        if not device:
            device = next(iter(net.parameters())).device
    # No. of correct predictions, no. of predictions
    metric = d2l.Accumulator(2)
    with torch.no_grad():
        for X, y in data_iter:
            if isinstance(X, list):
                # Required for BERT Fine-tuning (to be covered later)
                X = [x.to(device) for x in X]
            else:
                X = X.to(device)
            y = y.to(device)
            metric.add(d2l.accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]

def train_ch6(net, train_iter, test_iter, num_epochs, lr, device):
    """Train a model with a GPU (defined in Chapter 6)."""
    def init_weights(m):
        if type(m) == nn.Linear or type(m) == nn.Conv2d:
            nn.init.xavier_uniform_(m.weight)
    net.apply(init_weights)
    print('training on', device)
    net.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    animator = d2l.Animator(xlabel='epoch', xlim=[1, num_epochs],
                            legend=['train loss', 'train acc', 'test acc'])
    timer, num_batches = d2l.Timer(), len(train_iter)
    for epoch in range(num_epochs):
        # Sum of training loss, sum of training accuracy, no. of examples
        metric = d2l.Accumulator(3)
        net.train()
        for i, (X, y) in enumerate(train_iter):
            timer.start()
            optimizer.zero_grad()
            X, y = X.to(device), y.to(device)
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            with torch.no_grad():
                metric.add(l * X.shape[0], d2l.accuracy(y_hat, y), X.shape[0])
            timer.stop()
            train_l = metric[0] / metric[2]
            train_acc = metric[1] / metric[2]
            if (i + 1) % (num_batches // 5) == 0 or i == num_batches - 1:
                animator.add(epoch + (i + 1) / num_batches,
                             (train_l, train_acc, None))
        test_acc = evaluate_accuracy_gpu(net, test_iter)
        animator.add(epoch + 1, (None, None, test_acc))
    print(f'loss {train_l:.3f}, train acc {train_acc:.3f}, '
          f'test acc {test_acc:.3f}')
    print(f'{metric[2] * num_epochs / timer.sum():.1f} examples/sec '
          f'on {str(device)}')

lr, num_epochs = 0.9, 10
train_ch6(net, train_iter, test_iter, num_epochs, lr, d2l.try_gpu())
'''

# Made small to run in seconds: 1280 training images, one epoch (five batches: one curve point each)
LENET_SMALL = {"batch_size=batch_size)": "batch_size=batch_size, limit=1280)", "0.9, 10": "0.9, 1"}


def test_the_lenet_chapters_code_runs_as_written_below_three_import_lines(fashion_mnist, tmp_path, capsys,
                                                                          monkeypatch):
    text = LENET_CHAPTER
    for old, new in LENET_SMALL.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    monkeypatch.chdir(tmp_path)
    with backend.backend("numba"):
        exec(text, {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Conv2d output shape: \t minialex.Size([1, 6, 28, 28])"
    assert lines[2] == "AvgPool2d output shape: \t minialex.Size([1, 6, 14, 14])"
    assert lines[6] == "Flatten output shape: \t minialex.Size([1, 400])"
    assert lines[12] == "training on cpu"
    assert re.fullmatch(D2L_CLOSING_LINES, "\n".join(lines[13:]) + "\n")


def test_porting_from_d2l_shows_the_lenet_chapters_code_as_the_test_runs_it():
    doc = (Path(__file__).parent.parent / "docs" / "porting_from_d2l.md").read_text()
    assert LENET_CHAPTER.strip() in doc
