"""summary: LeNet beside AlexNet, ratios counted from the layers, and the reasons they are not 10x and 260x."""

from minialex import models
from minialex.cli import main
from minialex.summary import compare_with_lenet, totals


def test_totals_are_the_layers_sums():
    params, flops = totals(models.lenet(), (1, 1, 28, 28))
    assert params == models.lenet().num_parameters() == 61706
    conv1 = 6 * 28 * 28 * (2 * 25 + 1)                  # out elements x (multiply-adds + bias)
    assert flops > conv1


def test_compare_with_lenet_prints_both_networks_and_their_ratios(capsys):
    assert main(["summary", "--compare-lenet", "--input-size", "96"]) == 0
    out = capsys.readouterr().out
    lenet = totals(models.lenet(), (1, 1, 28, 28))
    alex = totals(models.alexnet(10, 1, 96), (1, 1, 96, 96))
    row = next(line for line in out.splitlines() if line.startswith("AlexNet (d2l's), 1x96x96"))
    assert f"{alex[0]:,}" in row and f"{alex[1]:,}" in row
    assert f"{alex[0] / lenet[0]:,.0f}x" in row and f"{alex[1] / lenet[1]:,.0f}x" in row
    assert "10x the parameters and 260x the compute" in out and "input size" in out and "96x96 px" in out
    imagenet = totals(models.alexnet(1000, 3, 224), (1, 3, 224, 224))
    assert f"{imagenet[0]:,}" in out


def test_the_ratios_grow_with_alexnets_input_size():
    small, large = compare_with_lenet(72, file=open("/dev/null", "w")), compare_with_lenet(224, file=open("/dev/null", "w"))
    ratio = lambda text: float(text.split("d2l's pair is ")[1].split("x")[0].replace(",", ""))  # noqa: E731
    assert ratio(small) < ratio(large)


def test_summary_of_lenet_and_a_bad_size(capsys):
    assert main(["summary", "--model", "lenet"]) == 0
    assert "total parameters 61,706" in capsys.readouterr().out
    assert main(["summary", "--model", "alexnet-sigmoid", "--input-size", "72"]) == 0
    assert "Sigmoid" in capsys.readouterr().out
