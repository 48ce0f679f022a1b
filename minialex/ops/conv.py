"""conv2d: a 2-D convolution (cross-correlation, as in every framework) by im2col + one matrix product,
or by Winograd's minimal filtering (:mod:`minialex.ops.winograd`) where that applies and is faster."""

from __future__ import annotations

from . import conv_algorithm, winograd
from ..backend import get_backend
from ..errors import ShapeError
from ..kernels.geometry import output_hw
from .common import Tensor, as_tensor, check_float, check_rank, check_same_dtype, mm, pair


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           algorithm: str | None = None, tile: int | None = None) -> Tensor:
    """Convolve NCHW images with ``weight`` (OC, C, kh, kw) -> (N, OC, oh, ow), ``oh = (H + 2ph - kh) // sh + 1``.

    ``algorithm``: "im2col" (below; every shape), "winograd" (stride 1, 3x3 or 5x5), "auto" (Winograd where
    it was measured faster, im2col elsewhere), or None for the process default (:func:`minialex.use_conv_algorithm`,
    "auto" unless set). See :mod:`minialex.ops.conv_algorithm`. ``tile``: Winograd's output tile m, F(m x m, r x r),
    where Winograd runs (default: :func:`minialex.ops.winograd.choose_tile`'s choice for the map size).

    Forward   col = im2col(x)                      (C*kh*kw, N*oh*ow)
              Y   = W @ col + b                    W = weight as (OC, C*kh*kw); Y as (OC, N*oh*ow)
    Backward  G   = dL/dY                          (OC, N*oh*ow)
              dW  = G @ col^T,  db = sum_cols G
              dx  = col2im(W^T @ G)                col2im is the adjoint of im2col: overlapping windows add up
    """
    op = "conv2d"
    x, weight = as_tensor(x), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    check_rank(x, 4, op, "(N, C, H, W)")
    check_rank(weight, 4, op, "weight (out_channels, in_channels, kh, kw)")
    check_float(x, op)
    check_same_dtype(op, input=x, weight=weight, bias=bias)
    stride, padding = pair(stride, "stride", op, 1), pair(padding, "padding", op, 0)
    n, c, h, w = x.shape
    oc, wc, kh, kw = weight.shape
    if c != wc:
        raise ShapeError(f"{op}: expected input with {wc} channels, shape (N, {wc}, H, W), got {tuple(x.shape)}")
    if bias is not None and bias.shape != (oc,):
        raise ShapeError(f"{op}: expected bias of shape ({oc},), got {tuple(bias.shape)}")
    if kh > h + 2 * padding[0] or kw > w + 2 * padding[1]:
        raise ShapeError(f"{op}: kernel {kh}x{kw} is larger than the padded input "
                         f"{h + 2 * padding[0]}x{w + 2 * padding[1]} (input {h}x{w}, padding {padding})")
    oh, ow = output_hw(h, w, (kh, kw), stride, padding)
    if tile is not None:
        winograd.check_tile(tile, kh, op)
    if conv_algorithm.choose(algorithm, x.shape, weight.shape, stride, padding, op, x.dtype) == "winograd":
        return winograd.conv2d_winograd(x, weight, bias, padding, (oh, ow), tile=tile)
    k = get_backend().kernels

    # Y and dcol stay plain @: their row-major results are the layout gemm_to_nchw and col2im read fastest
    w2 = weight.data.reshape(oc, -1)
    col = k.im2col(x.data, (kh, kw), stride, padding)
    y = k.gemm_to_nchw(w2 @ col, n, None if bias is None else bias.data).reshape(n, oc, oh, ow)
    del col  # built again in backward, as Caffe and PyTorch do: it is kh*kw times the input (see below)

    def backward(g):
        g2 = k.nchw_to_gemm(g)
        dw = db = dx = None
        if weight.requires_grad:
            col = k.im2col(x.data, (kh, kw), stride, padding)
            dw = mm(g2, col.T).reshape(weight.shape)
        if bias is not None and bias.requires_grad:
            db = g2.sum(axis=1)
        if x.requires_grad:
            dx = k.col2im(w2.T @ g2, x.shape, (kh, kw), stride, padding)
        return dx, dw, db

    return Tensor.from_op(y, (x, weight) if bias is None else (x, weight, bias), backward, op)
