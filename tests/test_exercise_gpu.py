"""The GPU exercise under Numba's CUDA simulator (no GPU needed): results, global memory per output, bounds."""

from minialex.tools.exercises.files import solution

from test_exercises import check_source, mutant, result, text

WRITE = "    out[n, c, i, j] = best\n"
READ_ONCE = "            v = x[n, c, i * stride + p, j * stride + q]\n            if v > best:\n                best = v"


def check_kernel(tmp_path, source):
    return check_source(tmp_path, "gpu_max_pool2d", source)


def test_reference_kernel_passes_with_k_squared_reads_and_one_write(tmp_path):
    report = check_kernel(tmp_path, solution("gpu_max_pool2d"))
    assert report.ok, str(report)
    assert result(report, "global memory").summary == "4 reads (2x2 window) and 1 write per output"
    assert result(report, "results on a real GPU").status in ("N/A", "PASS")


def test_writing_the_running_maximum_on_every_step_is_counted(tmp_path):
    source = mutant("gpu_max_pool2d", WRITE, "").replace("                best = v\n",
                                                           "                best = v\n                " + WRITE.strip()
                                                           + "\n")
    report = check_kernel(tmp_path, source)
    memory = result(report, "global memory")
    assert result(report, "results").status == "PASS" and memory.status == "FAIL"
    assert "writes of out for one output: keep the running maximum in a local variable" in text(memory)


def test_reading_an_element_twice_is_counted(tmp_path):
    source = mutant("gpu_max_pool2d", READ_ONCE, "            if x[n, c, i * stride + p, j * stride + q] > best:\n"
                                                 "                best = x[n, c, i * stride + p, j * stride + q]")
    memory = result(check_kernel(tmp_path, source), "global memory")
    assert memory.status == "FAIL"
    assert "reads of x for one output; its 3x3 window has 9 elements: read each once" in text(memory)


def test_a_thread_without_an_output_must_not_touch_memory(tmp_path):
    source = mutant("gpu_max_pool2d", "    if i >= out.shape[2] or j >= out.shape[3]:\n        return\n", "")
    results = result(check_kernel(tmp_path, source), "results")
    assert results.status == "FAIL" and "IndexError" in text(results)
    assert "outside x of shape (1, 1, 4, 4)" in text(results)
    assert "hint: the grid is rounded up to whole 8x8 blocks" in text(results)


def test_the_skeleton_says_it_is_not_written(tmp_path):
    from minialex.tools.exercises.files import skeleton
    report = check_kernel(tmp_path, skeleton("gpu_max_pool2d"))
    assert "max_pool2d_kernel is not written yet" in text(report.checks[0])
