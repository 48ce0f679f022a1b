"""Accuracy counts rows whose top score is the label; the confusion matrix's rows are the true classes."""

import numpy as np

from minialex.training.metrics import accuracy, confusion_matrix, correct, per_class_accuracy


def test_accuracy_counts_rows_whose_top_score_is_the_label():
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert correct(logits, np.array([1, 1, 1])) == 2
    assert accuracy(logits, np.array([1, 0, 1])) == 1.0
    assert accuracy(np.zeros((0, 2)), np.zeros(0, np.int64)) == 0.0


def test_confusion_rows_are_true_classes_and_per_class_accuracy_is_their_recall():
    confusion = confusion_matrix(predicted=[0, 1, 1, 2], labels=[0, 0, 1, 1], num_classes=3)
    assert confusion.tolist() == [[1, 1, 0], [0, 1, 1], [0, 0, 0]]
    recall = per_class_accuracy(confusion)
    assert recall[:2].tolist() == [0.5, 0.5] and np.isnan(recall[2])  # class 2 has no examples


def test_correct_takes_predicted_labels_too_and_refuses_mismatched_lengths():
    import pytest
    labels = np.array([0, 1, 1])
    assert correct(np.array([0, 1, 0]), labels) == 2 and correct(np.array([[0], [1], [0]]), labels) == 2
    assert accuracy(np.eye(3), labels) == 2 / 3
    with pytest.raises(ValueError, match="2 predictions for 3 labels"):
        correct(np.eye(2), labels)
