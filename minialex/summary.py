"""summary(model, input_shape): each layer's output shape, parameter count and forward FLOPs, from shape rules
alone (no forward pass), so it is instant even for AlexNet at 224 px and names the layer a wrong shape breaks."""

from __future__ import annotations

from dataclasses import dataclass

from . import nn
from .errors import InputError, InputTypeError


@dataclass
class LayerRow:
    name: str
    layer: str
    output_shape: tuple
    params: int
    flops: int
    algorithm: str = ""   # a conv layer's: "im2col" or "winograd" at this input shape, for the current default


def _leaves(module, prefix=""):
    """Leaf layers of nested Sequentials, in call order."""
    for name, child in module.named_children():
        if isinstance(child, nn.Sequential):
            yield from _leaves(child, f"{prefix}{name}.")
        else:
            yield prefix + name, child


def describe(layer) -> str:
    """A compact one-line description: ``Conv2d 1->96 11x11/4 p1``, ``MaxPool2d 3x3/2``, ``Linear 6400->4096``."""
    hw = lambda p: f"{p[0]}x{p[1]}" if p[0] != p[1] else f"{p[0]}"  # noqa: E731
    if isinstance(layer, nn.Conv2d):
        return (f"Conv2d {layer.in_channels}->{layer.out_channels} {layer.kernel_size[0]}x{layer.kernel_size[1]}"
                f"/{hw(layer.stride)} p{hw(layer.padding)}")
    if isinstance(layer, nn.MaxPool2d):
        pad = f" p{hw(layer.padding)}" if any(layer.padding) else ""
        return f"MaxPool2d {layer.kernel_size[0]}x{layer.kernel_size[1]}/{hw(layer.stride)}{pad}"
    if isinstance(layer, nn.Linear):
        return f"Linear {layer.in_features}->{layer.out_features}"
    if isinstance(layer, nn.Dropout):
        return f"Dropout p={layer.p}"
    return type(layer).__name__


def layer_table(model: nn.Module, input_shape) -> list[LayerRow]:
    if not isinstance(model, nn.Sequential):
        raise InputTypeError(f"summary: needs an nn.Sequential (its layer order is known), got {type(model).__name__}")
    shape, rows = tuple(input_shape), []
    for name, layer in _leaves(model):
        flops = layer.flops(shape)
        try:
            algorithm = layer.algorithm_for(shape) if isinstance(layer, nn.Conv2d) else ""
        except InputError as e:  # "winograd" asked of a layer it cannot run: say which layer, as forward does
            raise type(e)(f"layer ({name}) {e}") from None
        shape = layer.output_shape(shape)
        rows.append(LayerRow(name, describe(layer), shape, layer.num_parameters(), flops, algorithm))
    return rows


def summary(model: nn.Module, input_shape, file=None) -> str:
    """Print (and return) the table for one input of ``input_shape``, e.g. (1, 1, 224, 224). The algorithm column
    is what each conv runs on that input under the current default (:func:`minialex.use_conv_algorithm`)."""
    rows = layer_table(model, input_shape)
    width = max(len(r.layer) for r in rows) + 2
    lines = [f"{'#':<4} {'layer':<{width}}  {'output shape':<20} {'params':>12} {'FLOPs':>15}  {'algorithm':<9}",
             "-" * (width + 81),
             f"{'':<4} {'input':<{width}}  {str(tuple(input_shape)):<20} {'':>12} {'':>15}"]
    for r in rows:
        lines.append(f"{r.name:<4} {r.layer:<{width}}  {str(r.output_shape):<20} {r.params:>12,} {r.flops:>15,}  "
                     f"{r.algorithm}".rstrip())
    total_params, total_flops = sum(r.params for r in rows), sum(r.flops for r in rows)
    lines += ["-" * (width + 81),
              f"total parameters {total_params:,}; forward FLOPs {total_flops:,} "
              f"({total_flops / 1e9:.2f} GFLOP per batch of {input_shape[0]}; training ~3x)"]
    text = "\n".join(lines)
    print(text, file=file)
    return text


def totals(model: nn.Module, input_shape) -> tuple[int, int]:
    """(parameters, forward FLOPs) of ``model`` on one input of ``input_shape``."""
    rows = layer_table(model, input_shape)
    return sum(r.params for r in rows), sum(r.flops for r in rows)


# The summary quoted for the chapter: AlexNet is "a bigger, deeper LeNet, 10x the parameters, 260x the compute".
CHAPTER_RATIOS = (10, 260)


def compare_with_lenet(input_size: int = 224, file=None) -> str:
    """Print (and return) d2l's LeNet beside d2l's AlexNet -- for Fashion-MNIST at ``input_size``, and built for
    ImageNet's shape (3 channels, 1000 classes, 224 px) -- parameters, forward FLOPs per image and their ratios,
    then why they are not the 10x and 260x quoted for the chapter."""
    from . import models
    lenet_params, lenet_flops = totals(models.lenet(), (1, 1, 28, 28))
    nets = [("LeNet (d2l's), 1x28x28, 10 classes", lenet_params, lenet_flops),
            (f"AlexNet (d2l's), 1x{input_size}x{input_size}, 10 classes",
             *totals(models.alexnet(10, 1, input_size), (1, 1, input_size, input_size))),
            ("AlexNet (d2l's), 3x224x224, 1000 classes", *totals(models.alexnet(1000, 3, 224), (1, 3, 224, 224)))]
    width = max(len(n[0]) for n in nets) + 2
    lines = [f"{'network':<{width}} {'parameters':>12} {'FLOPs / image':>15} {'x LeNet params':>15} "
             f"{'x LeNet FLOPs':>14}", "-" * (width + 74)]
    for name, params, flops in nets:
        lines.append(f"{name:<{width}} {params:>12,} {flops:>15,} {params / lenet_params:>14,.0f}x "
                     f"{flops / lenet_flops:>13,.0f}x")
    alex = models.alexnet(10, 1, input_size)
    dense = sum(m.num_parameters() for m in alex if isinstance(m, nn.Linear))
    p_ratio, f_ratio = nets[1][1] / lenet_params, nets[1][2] / lenet_flops
    lines += ["", f"The summary quoted for the chapter, a bigger, deeper LeNet with {CHAPTER_RATIOS[0]}x the "
              f"parameters and {CHAPTER_RATIOS[1]}x the compute, is not what these networks measure: d2l's pair is "
              f"{p_ratio:,.0f}x and {f_ratio:,.0f}x. Why:",
              f"- input size: AlexNet sees {input_size}x{input_size} px, LeNet 28x28 -- "
              f"{(input_size / 28) ** 2:.0f}x the pixels, and every conv's FLOPs grow with the pixels of its maps;",
              "- width: AlexNet's convs have 96 to 384 channels, LeNet's 6 and 16, and a conv's FLOPs per output "
              "pixel grow with its input channels times its output channels;",
              f"- the dense layers: AlexNet's three hold {dense:,} parameters ({100 * dense / nets[1][1]:.0f}% of "
              f"them; the first is 256*s*s x 4096 with s the last map's side), LeNet's {lenet_params:,} in all;",
              "- channels and classes: for ImageNet AlexNet takes 3 channels and has 1000 outputs (the last row), "
              "for Fashion-MNIST 1 and 10 -- they move conv1 and the last layer only.",
              "So a ratio says which LeNet, which AlexNet and which input it was taken at; "
              "`minialex summary --compare-lenet --input-size N` gives it at any size."]
    text = "\n".join(lines)
    print(text, file=file)
    return text
