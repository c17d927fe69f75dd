"""The embedded demo: a marketplace of scikit-learn's digits with planted ground truth."""
