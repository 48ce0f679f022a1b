"""Output-size arithmetic shared by every engine's convolution and pooling kernels."""


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Positions a window of ``kernel`` visits along an axis of ``size`` (floor mode, as PyTorch)."""
    return (size + 2 * padding - kernel) // stride + 1


def output_hw(h: int, w: int, kernel, stride, padding) -> tuple[int, int]:
    return (output_size(h, kernel[0], stride[0], padding[0]),
            output_size(w, kernel[1], stride[1], padding[1]))
