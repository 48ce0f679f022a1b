"""The command line's one vocabulary: each flag that several commands take is declared here, once, so it is
spelled and means the same in all of them."""

from __future__ import annotations

from ..backend import ENGINES
from ..models import MODELS
from ..ops.conv_algorithm import ALGORITHMS


def backend(parser) -> None:
    """``--backend``, applied by :func:`minialex.cli.main` before the subcommand runs."""
    parser.add_argument("--backend", choices=ENGINES, default=None,
                        help="array engine (default: $MINIALEX_BACKEND, else numba)")


def conv_algorithm(parser, help: str = "") -> None:
    """``--conv-algorithm``, applied by :func:`minialex.cli.main` (``use_conv_algorithm``) before the subcommand
    runs; None when not given, so the process default ($MINIALEX_CONV_ALGORITHM, else auto) stands."""
    parser.add_argument("--conv-algorithm", choices=ALGORITHMS, default=None,
                        help=help or "how convolutions run: im2col, winograd (stride-1 3x3 and 5x5 only) or auto "
                                     "(Winograd where measured faster) (default: $MINIALEX_CONV_ALGORITHM, else auto)")


def input_size(parser, help: str, nargs=None, default=None, aliases=()) -> None:
    """``--input-size N`` (alias ``--resize N``): the side of the square images the model sees, in pixels."""
    parser.add_argument("--input-size", "--resize", *aliases, dest="input_size", type=int, nargs=nargs,
                        default=default, metavar="N", help=help + " (--resize is the same flag)")


def batch_size(parser, help: str = "batch size", default=None) -> None:
    """``--batch-size B`` (alias ``--batch B``)."""
    parser.add_argument("--batch-size", "--batch", dest="batch_size", type=int, default=default, metavar="B",
                        help=help + " (--batch is the same flag)")


def data_dir(parser) -> None:
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="folder holding the Fashion-MNIST files (default: $MINIALEX_DATA, the cache, or the "
                             "Debian package's folder)")


def test_limit(parser, help: str = "use the first N test images") -> None:
    parser.add_argument("--test-limit", type=int, default=None, metavar="N", help=help)


def model(parser, default=None) -> None:
    parser.add_argument("--model", choices=MODELS, default=default, help="alexnet (default), lenet (d2l's: sigmoid, average pooling) or lenet-relu-maxpool; the LeNets take 28 px only")


def seed(parser, help: str, default=None) -> None:
    parser.add_argument("--seed", type=int, default=default, help=help)
