"""Output-size arithmetic shared by every engine's convolution and pooling kernels."""


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Positions a window of ``kernel`` visits along an axis of ``size`` (floor mode, as PyTorch)."""
    return (size + 2 * padding - kernel) // stride + 1


def output_hw(h: int, w: int, kernel, stride, padding) -> tuple[int, int]:
    return (output_size(h, kernel[0], stride[0], padding[0]),
            output_size(w, kernel[1], stride[1], padding[1]))


# ---------------------------------------------------------------------------------------------------------
# Average pooling: PyTorch's ceil_mode and the divisor of each window


def pool_output_size(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool = False) -> int:
    """Windows along an axis. ``ceil_mode`` keeps a last, partial window, but only one that starts inside the
    input or its left padding (PyTorch's rule: ``(out - 1) * stride < size + padding``)."""
    if not ceil_mode:
        return output_size(size, kernel, stride, padding)
    out = -(-(size + 2 * padding - kernel) // stride) + 1
    return out - 1 if (out - 1) * stride >= size + padding else out


def pool_divisors(size: int, kernel: int, stride: int, padding: int, n_out: int, count_include_pad: bool) -> list:
    """What each of the ``n_out`` windows along an axis divides by, as PyTorch's avg_pool2d.

    Window ``o`` spans [o*stride - padding, o*stride - padding + kernel), clipped to the padded input
    [-padding, size + padding) -- a ceil-mode window hanging past the padding counts only what lies inside it.
    With ``count_include_pad`` the padding it covers counts; without, only the pixels of the input. The divisor
    of window (oy, ox) is the product of the two axes' numbers.
    """
    divisors = []
    for o in range(n_out):
        start = o * stride - padding
        end = min(start + kernel, size + padding)
        divisors.append(end - start if count_include_pad else min(end, size) - max(start, 0))
    return divisors
