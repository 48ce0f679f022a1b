"""Exercises: write an op's forward and backward yourself, on plain NumPy arrays, and have them checked.

    minialex exercise list
    minialex exercise start conv2d            # ./minialex_exercises/conv2d.py: signatures, math, no bodies
    minialex exercise check conv2d            # shapes, loops, finite differences, the library (docs/exercises.md)

Files: ``solutions/`` (the reference answers, from which the skeletons are cut), ``files.py`` (skeletons and
where they go), ``catalog.py`` (each exercise's configurations and how minialex computes the answer),
``loops.py`` (plain-loop definitions, which the tests use too), ``checker.py`` (the checks and their report);
the command is :mod:`minialex.cli.exercise`.
"""

# In the order they are best done: each uses ideas from the ones before it.
# The convolution ladder: conv2d_direct (loops) -> conv2d (im2col + GEMM) -> winograd1d -> winograd2d.
NAMES = ("relu", "sigmoid", "linear", "cross_entropy", "sgd_step", "dropout", "max_pool2d", "avg_pool2d",
         "conv2d_direct", "conv2d", "winograd1d", "winograd2d", "autograd", "gpu_max_pool2d")
